package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
)

// slowDownStep is how much every later poll waits longer after slow_down (RFC 8628 section 3.5).
const slowDownStep = 5 * time.Second

// pollOutcome is what one token request for the pending code found.
type pollOutcome struct {
	outcome
	// expired: the provider says the code expired before anyone approved it (expired_token); the
	// code is still there, for reconcileFlow to handle as any expired code.
	expired bool
}

// poll makes one token request for the pending device code and acts on the answer: the tokens of
// an approved code are stored, a denial or any other error that ends the flow halts it, and
// otherwise the next poll is booked (later after slow_down, with backoff after a failure).
func (r *DeviceLoginReconciler) poll(ctx context.Context, s *loginScope) (pollOutcome, error) {
	dl, st := s.dl, &s.dl.Status
	cfg, err := r.clientConfig(ctx, s)
	if err != nil {
		o, err := clientConfigFailed(err)
		return pollOutcome{outcome: o}, err
	}
	interval := time.Duration(st.PollInterval) * time.Second
	// The next slot is booked in memory before the request goes out; a controller that restarts
	// does not know it and waits a full interval instead (nextPoll), so it never polls early. The
	// usual authorization_pending answer so costs the API server nothing.
	r.polls.Store(loginName(dl), pollSlot{userCode: st.UserCode, next: s.now.Add(interval)})
	pctx, cancel := providerContext(ctx)
	defer cancel()
	tok, err := r.flowFor(s.provider).PollToken(pctx, cfg, s.state.DeviceCode)
	pollAnswered(ctx, err == nil)
	var oerr *oauth.Error
	var transient *oauth.TransientError
	switch {
	case err == nil:
		o, err := r.authorized(ctx, s, cfg, tok)
		return pollOutcome{outcome: o}, err
	case oauth.IsCode(err, "authorization_pending"):
		st.ConsecutiveFailures = 0
		r.slowDowns.Delete(loginName(dl))
	case oauth.IsCode(err, "slow_down"):
		errors.As(err, &oerr)
		interval = r.slowDownInterval(loginName(dl), interval, oerr.Interval)
		st.PollInterval = int32(interval / time.Second) //nolint:gosec // G115: minutes, far below 2^31 seconds
		st.ConsecutiveFailures = 0
		log.FromContext(ctx).V(1).Info("Provider asked to slow down", "pollInterval", st.PollInterval)
	case oauth.IsCode(err, "expired_token"):
		return pollOutcome{expired: true}, nil
	case oauth.IsCode(err, "access_denied", "authorization_declined"):
		r.dropCode(s)
		halt := r.haltWith(s, ReasonAccessDenied, fmt.Sprintf("The authorization request was denied at %s; set the annotation %s to ask again",
			providerName(dl), authv1alpha1.ReauthorizeAnnotation))
		return pollOutcome{outcome: outcome{block: halt}}, r.persist(ctx, s)
	case errors.As(err, &transient):
		if transient.StatusCode == 429 {
			interval += slowDownStep
			st.PollInterval = int32(interval / time.Second) //nolint:gosec // G115: minutes, far below 2^31 seconds
		}
		return pollOutcome{outcome: outcome{wake: r.transientFailure(ctx, s, "Polling for the approval", transient, interval)}}, nil
	default:
		// RFC 8628 section 3.5: any other error ends the polling.
		r.dropCode(s)
		halt := r.haltWith(s, ReasonProviderError, fmt.Sprintf("%s ended the device flow: %s; fix the cause, then set the annotation %s",
			providerName(dl), err, authv1alpha1.ReauthorizeAnnotation))
		return pollOutcome{outcome: outcome{block: halt}}, r.persist(ctx, s)
	}
	return pollOutcome{outcome: outcome{wake: r.setNextPoll(s, r.answeredAt(s).Add(interval))}}, nil
}

// pollSlot is when a pending code may be polled next, kept in memory at full precision so that
// polling costs no status write.
type pollSlot struct {
	userCode string
	next     time.Time
}

// nextPoll is when the pending code may be polled next. A code this process has not polled yet (it
// was issued before a restart, or by another leader) waits one full interval from now, and never
// less than the not-before time in status: this process cannot know when the last poll went out.
func (r *DeviceLoginReconciler) nextPoll(s *loginScope) time.Time {
	st := &s.dl.Status
	if v, ok := r.polls.Load(loginName(s.dl)); ok && v.(pollSlot).userCode == st.UserCode {
		return v.(pollSlot).next
	}
	next := maxTime(s.now.Add(time.Duration(st.PollInterval)*time.Second), timeOf(st.NextPollTime))
	r.polls.Store(loginName(s.dl), pollSlot{userCode: st.UserCode, next: next})
	return next
}

// setNextPoll books the next poll of the pending code at t (pollAt), and returns when the work
// queue should wake for it.
func (r *DeviceLoginReconciler) setNextPoll(s *loginScope, t time.Time) time.Time {
	r.polls.Store(loginName(s.dl), pollSlot{userCode: s.dl.Status.UserCode, next: t})
	return r.pollAt(s, t)
}

// pollAt makes the reconcile that polls run at t: on duePolls' own goroutine, out of the work
// queue, when there is one; else as the queue's next wake. It returns the time the work queue
// should wake for it: t, or the zero time when duePolls took it.
func (r *DeviceLoginReconciler) pollAt(s *loginScope, t time.Time) time.Time {
	if r.duePolls == nil {
		return t
	}
	r.duePolls.book(client.ObjectKeyFromObject(s.dl), t)
	return time.Time{}
}

// answeredAt is when the provider's answer arrived: the next poll is counted from then, not from
// when the request was sent, so that it is never early by the provider's clock however long the
// request took on the way (the provider counts from when it received it).
func (r *DeviceLoginReconciler) answeredAt(s *loginScope) time.Time {
	return maxTime(r.Clock.Now(), s.now)
}

// loginName keys what this process remembers of a DeviceLogin.
func loginName(dl *authv1alpha1.DeviceLogin) string { return dl.Namespace + "/" + dl.Name }

// slowDownInterval is the polling interval after a slow_down: the provider's own figure when it
// gives one, else 5 s more (RFC 8628 section 3.5) and 5 s more again for every further slow_down
// in a row. A client that started behind the server's interval (a provider that announced less
// than it enforces) so catches up instead of staying behind by the same amount for ever.
func (r *DeviceLoginReconciler) slowDownInterval(name string, interval, stated time.Duration) time.Duration {
	n := 1
	if v, ok := r.slowDowns.Load(name); ok {
		n = v.(int) + 1
	}
	r.slowDowns.Store(name, n)
	return max(interval+time.Duration(n)*slowDownStep, stated)
}
