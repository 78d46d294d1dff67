package controllers

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/devicelogin-dev/devicelogin-operator/internal/metrics"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
)

// maxRefreshJitter bounds how much earlier than planned a refresh may happen, so that tokens
// issued together are not all refreshed in the same second.
const maxRefreshJitter = 2 * time.Minute

// reconcileRefresh refreshes the access token with the refresh-token grant when nextRefreshTime
// has come or the refresh annotation asks for it. A rotated refresh token is written to the state
// Secret before anything else. A refused refresh token records that a new approval is needed
// (loginState.NeedsApproval), and reconcileFlow asks for a new code while the current access token
// is still served; other failures back off and show in the TokenRefreshed condition.
func (r *DeviceLoginReconciler) reconcileRefresh(ctx context.Context, s *loginScope, t triggers) (outcome, error) {
	dl, st := s.dl, s.state
	var o outcome
	if !st.hasToken() || s.provider == nil || st.Grant != s.grant || st.Binding != s.binding {
		return o, nil
	}
	if dl.Status.NextRefreshTime == nil && !st.Expiry.IsZero() && dl.Status.ConsecutiveFailures == 0 {
		// A token whose schedule was lost (status wiped, a write that never landed) gets one again.
		o.wakeAt(r.scheduleRefresh(s))
	}
	next := timeOf(dl.Status.NextRefreshTime)
	if !t.refresh && (next.IsZero() || s.now.Before(next)) {
		o.wakeAt(next)
		return o, nil
	}
	if st.RefreshToken == "" {
		if t.refresh && (next.IsZero() || s.now.Before(next)) {
			// Asked to refresh a token that cannot be refreshed: say so, and leave the decision to
			// ask a person again to the reauthorize annotation.
			r.event(dl, corev1.EventTypeWarning, EventRefreshFailed, "Refresh",
				"The provider issued no refresh token, so the token cannot be refreshed; set the annotation %s to ask for a new approval",
				authv1alpha1.ReauthorizeAnnotation)
			o.wakeAt(next)
			return o, nil
		}
		// Nothing to refresh with: a person has to approve again before the token expires.
		if !s.pending() && t.halt == nil && st.NeedsApproval == "" {
			st.NeedsApproval = "the provider issued no refresh token"
			if err := r.persist(ctx, s); err != nil {
				return o, err
			}
			r.event(dl, corev1.EventTypeNormal, ReasonReauthorizationRequired, "Refresh",
				"The token %s and the provider issued no refresh token; requesting a new user code", expiryText(st))
		}
		return o, nil
	}
	cfg, err := r.clientConfig(ctx, s)
	if err != nil {
		return o.with(clientConfigFailed(err))
	}
	pctx, cancel := providerContext(ctx)
	defer cancel()
	tok, err := r.flowFor(s.provider).Refresh(pctx, cfg, st.RefreshToken)
	metrics.RecordRefresh(providerLabel(s.provider.obj), err == nil)
	if err == nil {
		return o.with(r.refreshed(ctx, s, tok))
	}
	if refreshTokenRefused(err) {
		// Persisted, so that a new code is asked for even if the next request fails for a while.
		st.RefreshToken = ""
		st.NeedsApproval = "the provider refused the refresh token"
		if err := r.persist(ctx, s); err != nil {
			return o, err
		}
		dl.Status.NextRefreshTime = nil
		setRefreshed(dl, false, ReasonReauthorizationRequired, fmt.Sprintf("The provider refused the refresh token: %s", err))
		r.event(dl, corev1.EventTypeWarning, ReasonReauthorizationRequired, "Refresh",
			"%s refused the refresh token (%s); requesting a new user code. The current token %s",
			providerName(dl), err, expiryText(st))
		return o, nil
	}
	failing := dl.Status.ConsecutiveFailures > 0
	dl.Status.ConsecutiveFailures++
	var transient *oauth.TransientError
	delay := backoff(dl.Status.ConsecutiveFailures)
	if errors.As(err, &transient) {
		delay = max(delay, transient.RetryAfter)
	}
	dl.Status.NextRefreshTime = mtime(s.now.Add(delay).Add(time.Second - 1))
	o.wakeAt(dl.Status.NextRefreshTime.Time)
	msg := fmt.Sprintf("Refreshing at %s failed %d time(s): %s; retrying at %s", providerName(dl),
		dl.Status.ConsecutiveFailures, err, timestamp(dl.Status.NextRefreshTime.Time))
	setRefreshed(dl, false, ReasonRefreshFailed, msg)
	log.FromContext(ctx).Info("Refresh failed, will retry", "reason", err.Error(), "failures", dl.Status.ConsecutiveFailures,
		"retryAt", timestamp(dl.Status.NextRefreshTime.Time))
	if !failing {
		r.event(dl, corev1.EventTypeWarning, EventRefreshFailed, "Refresh", "Refreshing at %s failed: %s; retrying with backoff. The current token %s",
			providerName(dl), err, expiryText(st))
	}
	return o, nil
}

// refreshTokenRefused says whether the provider will never take this refresh token again:
// invalid_grant (RFC 6749), or Dex's invalid_request for a token "already claimed".
func refreshTokenRefused(err error) bool {
	if oauth.IsCode(err, "invalid_grant") {
		return true
	}
	var oerr *oauth.Error
	return errors.As(err, &oerr) && oerr.Code == "invalid_request" &&
		(strings.Contains(oerr.Description, "claimed") || strings.Contains(strings.ToLower(oerr.Description), "refresh token is invalid"))
}

// refreshed stores a refreshed token: state Secret first (it may hold a rotated refresh token
// that the provider will not hand out again), then status; the token Secret follows. It wakes for
// the next refresh.
func (r *DeviceLoginReconciler) refreshed(ctx context.Context, s *loginScope, tok *oauth.Token) (outcome, error) {
	dl := s.dl
	r.storeToken(s, tok)
	if err := r.persist(ctx, s); err != nil {
		return outcome{}, err
	}
	dl.Status.LastRefreshTime = mtime(s.now)
	if retry := r.shortLived(ctx, s); !retry.IsZero() {
		return outcome{wake: retry}, nil
	}
	dl.Status.ConsecutiveFailures = 0
	o := outcome{wake: r.scheduleRefresh(s)}
	setRefreshed(dl, true, ReasonRefreshSucceeded, fmt.Sprintf("Refreshed at %s", timestamp(s.now)))
	log.FromContext(ctx).Info("Token refreshed", "rotated", tok.Rotated, "expiresAt", expiryText(s.state))
	r.event(dl, corev1.EventTypeNormal, EventTokenRefreshed, "Refresh", "Refreshed the token in Secret %s; it %s",
		dl.TokenSecretName(), expiryText(s.state))
	return o, nil
}

// scheduleRefresh sets tokenExpiresAt and nextRefreshTime for the token in the state: two thirds
// into its lifetime, or refreshBefore ahead of its expiry, minus a per-object jitter that only
// ever moves the refresh earlier, never past expiry. It returns the refresh time (zero for a
// token that does not expire).
func (r *DeviceLoginReconciler) scheduleRefresh(s *loginScope) time.Time {
	st, ds := s.state, &s.dl.Status
	ds.TokenExpiresAt = mtime(st.Expiry)
	if st.Expiry.IsZero() {
		ds.NextRefreshTime = nil
		return time.Time{}
	}
	at := refreshTime(st.IssuedAt, st.Expiry, s.dl.Spec.RefreshBefore, string(s.dl.UID))
	at = maxTime(at, st.IssuedAt.Add(minRefreshInterval))
	ds.NextRefreshTime = mtime(at)
	return at
}

// refreshTime computes when to refresh a token issued at issued and expiring at expiry.
func refreshTime(issued, expiry time.Time, before *metav1.Duration, seed string) time.Time {
	life := expiry.Sub(issued)
	at := issued.Add(life * 2 / 3)
	if before != nil && before.Duration > 0 {
		at = expiry.Add(-before.Duration)
		if at.Before(issued.Add(life / 2)) {
			// refreshBefore is longer than most of the lifetime: refresh at half-life rather than at once.
			at = issued.Add(life / 2)
		}
	}
	h := fnv.New32a()
	h.Write([]byte(seed))
	jitter := time.Duration(h.Sum32()%1000) * min(life/20, maxRefreshJitter) / 1000
	return at.Add(-jitter)
}

// minRefreshInterval is the least time between receiving a token and refreshing it, whatever the
// token's lifetime says.
const minRefreshInterval = 5 * time.Second

// minTokenLifetime: a token that lives shorter than this is the provider's mistake (expires_in 0
// or negative, a JWT exp just after now). It is stored (the answer may carry a rotated refresh
// token), but refreshing it is treated as a failure that backs off, not as a schedule.
const minTokenLifetime = minRefreshInterval

// shortLived handles a token that lives shorter than minTokenLifetime: the next refresh backs off
// like a failed one, TokenRefreshed turns False with ProviderError, and the first one in a row
// is announced with a ProviderError event. It returns when to refresh again, or the zero time
// when the token is not short-lived.
func (r *DeviceLoginReconciler) shortLived(ctx context.Context, s *loginScope) time.Time {
	dl, st := s.dl, s.state
	if st.Expiry.IsZero() || st.Expiry.Sub(s.now) >= minTokenLifetime {
		return time.Time{}
	}
	failing := dl.Status.ConsecutiveFailures > 0
	dl.Status.ConsecutiveFailures++
	dl.Status.TokenExpiresAt = mtime(st.Expiry)
	dl.Status.NextRefreshTime = mtime(s.now.Add(backoff(dl.Status.ConsecutiveFailures)).Add(time.Second - 1))
	msg := fmt.Sprintf("%s issued an access token that is valid for only %s (until %s); refreshing again at %s",
		providerName(dl), max(st.Expiry.Sub(s.now), 0).Round(time.Second), timestamp(st.Expiry), timestamp(dl.Status.NextRefreshTime.Time))
	setRefreshed(dl, false, ReasonProviderError, msg)
	log.FromContext(ctx).Info("Provider issued a token that is about to expire", "expiresAt", timestamp(st.Expiry),
		"failures", dl.Status.ConsecutiveFailures)
	if !failing {
		r.event(dl, corev1.EventTypeWarning, ReasonProviderError, "Refresh", "%s", msg)
	}
	return dl.Status.NextRefreshTime.Time
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
