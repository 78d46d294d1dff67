package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/log"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
)

// reconcileFlow runs the device flow. A pending code is polled when its poll is due; a code that
// expired unapproved (by its time, or as the provider says) is dropped, and under
// codeExpiryPolicy Renew a new one is asked for at once. Without a pending code, a new one is asked
// for when the DeviceLogin has no usable token (none yet, a grant-changing spec edit, a
// reauthorize request, a refused refresh token, a provider instance that changed, or an expiring
// token without a refresh token), unless the flow is halted or a failed request is backing off.
// The helpers that talk to the provider (poll, startFlow) and codeExpired return what they found;
// what follows is decided here.
func (r *DeviceLoginReconciler) reconcileFlow(ctx context.Context, s *loginScope, t triggers) (outcome, error) {
	dl := s.dl
	if !s.pending() {
		if !r.needsCode(s, t) || s.provider == nil {
			return outcome{}, nil
		}
		if next := timeOf(dl.Status.NextPollTime); dl.Status.ConsecutiveFailures > 0 && s.now.Before(next) {
			return outcome{wake: next}, nil // backing off after a failed device authorization request
		}
		return r.startFlow(ctx, s)
	}
	var o outcome
	expires := timeOf(dl.Status.UserCodeExpiresAt)
	expired, polled := !s.now.Before(expires), false
	if !expired {
		if s.provider == nil {
			// The provider's watch brings the next reconcile when it is usable again; until then
			// only the code's expiry is worth waking for.
			return outcome{wake: expires}, nil
		}
		if next := r.nextPoll(s); s.now.Before(next) {
			return outcome{wake: earliest(r.pollAt(s, next), expires)}, nil
		}
		p, err := r.poll(ctx, s)
		if err != nil {
			return p.outcome, err
		}
		o, expired, polled = p.outcome, p.expired, true
	}
	if expired {
		halt, err := r.codeExpired(ctx, s)
		if err != nil || halt != nil {
			return o.with(outcome{block: halt}, err)
		}
		if s.provider != nil {
			// codeExpiryPolicy Renew: the next code at once. Without a usable provider none is
			// asked for now; a later reconcile decides (needsCode).
			if o, err = o.with(r.startFlow(ctx, s)); err != nil {
				return o, err
			}
		}
	}
	if polled && s.pending() {
		// Polled and still pending (or pending again): wake by the expiry at the latest.
		o.wakeAt(expires)
	}
	return o, nil
}

// needsCode says whether a new user code is wanted now.
func (r *DeviceLoginReconciler) needsCode(s *loginScope, t triggers) bool {
	st := s.state
	switch {
	case t.halt != nil:
		return false
	case t.reauthorize, !st.hasToken(), st.NeedsApproval != "":
		return true
	case st.Grant != s.grant:
		return true
	}
	return false
}

// startFlow asks the provider (s.provider, which must be usable) for a device code and publishes
// the user code; it wakes for the first poll. A token Secret that belongs to someone else is a
// SecretConflict checked again every conflictRecheck; a refused request halts the flow; a failed
// one backs off.
func (r *DeviceLoginReconciler) startFlow(ctx context.Context, s *loginScope) (outcome, error) {
	dl := s.dl
	conflict, err := r.tokenSecretTaken(ctx, s)
	if err != nil {
		return outcome{}, err
	}
	if conflict != nil {
		return outcome{block: secretConflict(conflict), wake: s.now.Add(conflictRecheck)}, nil
	}
	cfg, err := r.clientConfig(ctx, s)
	if err != nil {
		return clientConfigFailed(err)
	}
	pctx, cancel := providerContext(ctx)
	defer cancel()
	da, err := r.flowFor(s.provider).RequestDeviceCode(pctx, cfg, oauth.DeviceRequest{
		Scopes: dl.Spec.Scopes, Audience: dl.Spec.Audience, Parameters: dl.Spec.Parameters,
	})
	if err != nil {
		var transient *oauth.TransientError
		if errors.As(err, &transient) {
			return outcome{wake: r.transientFailure(ctx, s, "Requesting a user code", transient, 0)}, nil
		}
		return outcome{block: r.haltWith(s, ReasonProviderError, fmt.Sprintf("%s refused the device authorization request: %s", providerName(dl), err))}, nil
	}
	s.state.DeviceCode, s.state.DeviceGrant, s.state.DeviceBinding = da.DeviceCode, s.grant, s.binding
	if err := r.persist(ctx, s); err != nil {
		return outcome{}, err
	}
	interval := da.Interval // includes the preset's poll margin (oauth.Quirks.PollMargin)
	st := &dl.Status
	st.UserCode = da.UserCode
	st.VerificationURI = da.VerificationURI
	st.VerificationURIComplete = da.VerificationURIComplete
	st.ApprovalURL = da.VerificationURIComplete
	if st.ApprovalURL == "" {
		st.ApprovalURL = da.VerificationURI
	}
	st.UserCodeExpiresAt = mtime(s.now.Add(da.ExpiresIn))
	//nolint:gosec // G115: oauth caps a stated interval at 10 minutes (plus the preset's margin).
	st.PollInterval = int32((da.Interval + time.Second - 1) / time.Second) // whole seconds, never less
	st.NextPollTime = mtime(s.now.Add(interval).Add(time.Second - 1))      // not before: rounded up
	st.ConsecutiveFailures = 0
	o := outcome{wake: r.setNextPoll(s, r.answeredAt(s).Add(interval))}
	log.FromContext(ctx).Info("User code issued", "userCode", st.UserCode, "verificationURI", st.VerificationURI,
		"expiresAt", timestamp(st.UserCodeExpiresAt.Time))
	r.event(dl, corev1.EventTypeNormal, EventUserCodeIssued, "RequestDeviceCode",
		"%s to authorize %s for scopes [%s]", approvalMessage(st), providerName(dl), strings.Join(dl.Spec.Scopes, " "))
	return o, nil
}

// codeExpired drops a user code that expired unapproved and announces it. It returns the halt
// when no new code follows (codeExpiryPolicy Stop, or maxUnansweredCodes in a row); nil means
// that reconcileFlow asks for a new one at once.
func (r *DeviceLoginReconciler) codeExpired(ctx context.Context, s *loginScope) (*blocker, error) {
	dl := s.dl
	code, expired := dl.Status.UserCode, timeOf(dl.Status.UserCodeExpiresAt)
	r.dropCode(s)
	if err := r.persist(ctx, s); err != nil {
		return nil, err
	}
	msg := fmt.Sprintf("The user code %s expired at %s before anyone approved it", code, timestamp(expired))
	dl.Status.UnansweredCodes++
	if r.codesExhausted(dl) && dl.Spec.CodeExpiryPolicy != authv1alpha1.CodeExpiryStop {
		msg = fmt.Sprintf("%s; that is %d unanswered codes in a row, so no new code is requested", msg, dl.Status.UnansweredCodes)
	}
	r.event(dl, corev1.EventTypeWarning, ReasonCodeExpired, "Poll", "%s", msg)
	if r.codesExhausted(dl) {
		return halted(ReasonCodeExpired, fmt.Sprintf("%s; set the annotation %s to get a new code",
			msg, authv1alpha1.ReauthorizeAnnotation)), nil
	}
	return nil, nil
}

// authorized stores the tokens from an approved code: the state Secret first, so that nothing is
// lost if a later write fails; the token Secret follows in reconcileTokenSecret. It wakes for the
// first refresh.
func (r *DeviceLoginReconciler) authorized(ctx context.Context, s *loginScope, cfg oauth.ClientConfig, tok *oauth.Token) (outcome, error) {
	dl, st := s.dl, s.state
	grant, binding := st.DeviceGrant, st.DeviceBinding
	*st = loginState{Grant: grant, Binding: binding}
	r.storeToken(s, tok)
	if st.Scope == "" {
		// No scope in the answer means the requested scopes were granted (RFC 6749 section 5.1).
		st.Scope = strings.Join(dl.Spec.Scopes, " ")
	}
	clearPendingCode(&dl.Status)
	// Status is complete before the state is written: if that write is refused, the tokens wait in
	// memory for the next reconcile, and the schedule that status carries (tokenExpiresAt,
	// nextRefreshTime) must already be there for them.
	ds := &dl.Status
	ds.AuthorizedAt = mtime(s.now)
	ds.AuthorizedSubject = ""
	ds.GrantedScopes = grantedScopes(dl, tok)
	ds.LastRefreshTime = nil
	ds.ConsecutiveFailures = 0
	ds.UnansweredCodes = 0
	o := outcome{wake: r.scheduleRefresh(s)}
	meta.RemoveStatusCondition(&ds.Conditions, ConditionTokenRefreshed)
	o.wakeAt(r.shortLived(ctx, s))
	if err := r.persist(ctx, s); err != nil {
		return o, err
	}
	// Who approved is looked up only once the tokens are stored: the lookup is a network call,
	// and a failure or a shutdown during it must not lose them.
	pctx, cancel := providerContext(ctx)
	defer cancel()
	subject, err := r.flowFor(s.provider).Subject(pctx, cfg, tok)
	if err != nil {
		log.FromContext(ctx).Info("Could not tell who approved", "reason", err.Error())
	}
	subject = oauth.SanitizeDisplay(subject, maxSubjectLength)
	ds.AuthorizedSubject = subject
	by := ""
	if subject != "" {
		by = " by " + subject
	}
	log.FromContext(ctx).Info("Authorized", "subject", subject, "expiresAt", expiryText(st))
	r.event(dl, corev1.EventTypeNormal, ReasonAuthorized, "Poll", "Approved%s at %s; the token in Secret %s %s",
		by, providerName(dl), dl.TokenSecretName(), expiryText(st))
	return o, nil
}

// storeToken puts a token response into the state, keeping what the provider did not resend.
func (r *DeviceLoginReconciler) storeToken(s *loginScope, tok *oauth.Token) {
	st := s.state
	st.AccessToken, st.TokenType = tok.AccessToken, tok.TokenType
	if tok.RefreshToken != "" {
		st.RefreshToken = tok.RefreshToken
	}
	if tok.IDToken != "" {
		st.IDToken = tok.IDToken
	}
	if tok.Scope != "" {
		st.Scope = tok.Scope
	}
	st.IssuedAt = s.now
	st.Expiry = time.Time{}
	if tok.ExpiresIn > 0 {
		st.Expiry = s.now.Add(tok.ExpiresIn)
	}
	if tok.LifetimeProblem != "" {
		// expires_in 0 or negative: the token is treated as expiring now (shortLived backs off),
		// never as a token that does not expire.
		st.Expiry = s.now
	}
	// expires_in is relative, so the node's clock does not matter for it; but a JWT access token
	// carries its own exp, stamped by the provider's clock, and resource servers check that one.
	// When the provider's clock runs behind, exp comes first: schedule against it. An exp
	// already past on the node's clock says the clocks disagree wildly; expires_in is used then.
	if exp, ok := oauth.UnverifiedExpiry(tok.AccessToken); ok && exp.After(s.now) && (st.Expiry.IsZero() || exp.Before(st.Expiry)) {
		st.Expiry = exp
	}
}

// grantedScopes are the scopes the provider says it granted, or those requested when it does not
// say (RFC 6749 section 5.1).
func grantedScopes(dl *authv1alpha1.DeviceLogin, tok *oauth.Token) []string {
	if tok.Scope != "" {
		return strings.Fields(tok.Scope)
	}
	return append([]string(nil), dl.Spec.Scopes...)
}

// expiryText says until when a token is valid.
func expiryText(st *loginState) string {
	if st.Expiry.IsZero() {
		return "does not expire"
	}
	return "is valid until " + timestamp(st.Expiry)
}

// transientFailure counts a failure worth retrying and schedules the retry with backoff, never
// sooner than atLeast (the poll interval) or the server's Retry-After. The event fires on the
// first failure of a run only, not on every retry. It returns when to retry.
func (r *DeviceLoginReconciler) transientFailure(ctx context.Context, s *loginScope, what string, err *oauth.TransientError, atLeast time.Duration) time.Time {
	st := &s.dl.Status
	st.ConsecutiveFailures++
	delay := max(backoff(st.ConsecutiveFailures), err.RetryAfter, atLeast)
	next := s.now.Add(delay)
	st.NextPollTime = mtime(next.Add(time.Second - 1))
	wake := st.NextPollTime.Time
	if s.pending() {
		wake = r.setNextPoll(s, next)
	}
	log.FromContext(ctx).Info("Provider request failed, will retry", "what", what, "reason", err.Error(),
		"failures", st.ConsecutiveFailures, "retryAt", timestamp(st.NextPollTime.Time))
	if st.ConsecutiveFailures == 1 {
		r.event(s.dl, corev1.EventTypeWarning, ReasonProviderError, "Retry", "%s at %s failed: %s; retrying with backoff",
			what, providerName(s.dl), err)
	}
	return wake
}

// haltWith stops the flow until the reauthorize annotation or a spec change, with an event, and
// returns the halt for Ready.
func (r *DeviceLoginReconciler) haltWith(s *loginScope, reason, message string) *blocker {
	s.dl.Status.ConsecutiveFailures = 0
	s.dl.Status.NextPollTime = nil
	r.event(s.dl, corev1.EventTypeWarning, reason, "Poll", "%s", message)
	return halted(reason, message)
}

// maxUnansweredCodes is how many user codes in a row may expire unapproved under
// codeExpiryPolicy Renew before the operator stops asking (an abandoned DeviceLogin must not ask a
// provider for codes for ever). The reauthorize annotation or a spec change starts again.
const maxUnansweredCodes = 10

// codesExhausted says whether no new code follows an expired one: always under Stop, and under
// Renew once maxUnansweredCodes codes in a row went unanswered.
func (r *DeviceLoginReconciler) codesExhausted(dl *authv1alpha1.DeviceLogin) bool {
	return dl.Spec.CodeExpiryPolicy == authv1alpha1.CodeExpiryStop || dl.Status.UnansweredCodes >= maxUnansweredCodes
}

// providerBudget bounds one provider call made on behalf of a reconcile. Provider calls finish
// even when the manager is shutting down: an answer may carry a rotated refresh token that the
// provider will not hand out again. The pod's termination grace period covers this budget plus
// stateWriteBudget.
const providerBudget = 30 * time.Second

// providerContext is the context of one provider call: not cancelled with the reconcile, bounded
// by providerBudget (the HTTP client's own timeout is usually shorter).
func providerContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), providerBudget)
}

// tokenSecretTaken checks, before a user code is asked for, that the token Secret can be written:
// a Secret of that name that this DeviceLogin does not own is never overwritten, and a person
// must not approve a token that cannot be delivered. The foreign Secret is not in the cache (the
// cache holds only the operator's Secrets), so it is read from the API server, once per attempt,
// and checked again every conflictRecheck until it is gone. It returns the conflict, or nil when
// the Secret is free or already this DeviceLogin's.
func (r *DeviceLoginReconciler) tokenSecretTaken(ctx context.Context, s *loginScope) (*conflictError, error) {
	dl := s.dl
	var have corev1.Secret
	key := types.NamespacedName{Namespace: dl.Namespace, Name: dl.TokenSecretName()}
	err := r.Get(ctx, key, &have)
	if apierrors.IsNotFound(err) {
		err = r.APIReader.Get(ctx, key, &have)
	}
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if ownedBy(&have, dl) {
		return nil, nil
	}
	return &conflictError{name: key.Name}, nil
}

// conflictRecheck is how often a login blocked by a foreign Secret looks again.
const conflictRecheck = time.Minute

// clientConfigFailed sorts an error reading the provider's client secret: a missing or refused
// Secret is the provider's problem, shown in Ready; anything else (an API server hiccup) is
// returned, so that the reconcile backs off and tries again rather than losing a pending approval.
func clientConfigFailed(err error) (outcome, error) {
	if isClientSecretProblem(err) {
		return outcome{block: providerProblem(err.Error(), true)}, nil
	}
	return outcome{}, err
}
