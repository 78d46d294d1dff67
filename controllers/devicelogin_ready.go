package controllers

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// readiness is the Ready condition one reconcile arrives at.
type readiness struct {
	status          metav1.ConditionStatus
	reason, message string
	// warn: turning to this reason is worth a Warning event (no step announced it itself).
	warn bool
}

// readyFor is the Ready condition for what the steps of one reconcile found (f), the DeviceLogin
// as they left it and the stored state. It is the one place that says how the steps' decisions
// combine: the first of these that holds decides.
//
//  1. InvalidSpec: the spec cannot be served; a valid token stays in the Secret until it expires.
//  2. SecretConflict: a Secret the operator must write belongs to someone else.
//  3. ProviderNotReady: the ClusterOAuthProvider does not allow the namespace.
//  4. The halt (AccessDenied, ProviderError or CodeExpired): True while the token is still valid.
//     (When the state could not be read, st is nil and nothing below applies: ok is false, and
//     Ready stays as it was while the error is retried.)
//  5. ReauthorizationRequired, True: the token is valid, and a new code waits for approval.
//  6. Authorized: the token is valid.
//  7. AwaitingApproval: a code waits for approval (and its last polls failed, if they did).
//  8. ProviderNotReady: the provider is not usable (not found, not ready, its client secret).
//  9. ProviderNotReady: requesting a user code failed, and is retried with backoff.
//  10. The token expired: ReauthorizationRequired, or why refreshing it failed
//     (ProviderNotReady or ProviderError, from the TokenRefreshed condition).
//  11. AwaitingApproval: a user code is being requested.
//
// Last, a True condition turns Unknown (ReconcileError) when a step failed before the token Secret
// step confirmed that the Secret holds the current token. Every message is built from absolute
// times only, so that a reconcile that changes nothing writes nothing.
func readyFor(f *findings, dl *authv1alpha1.DeviceLogin, st *loginState, now time.Time) (readiness, bool) {
	r, ok := readyRow(f, dl, st, now)
	if ok && f.err != nil && r.status == metav1.ConditionTrue && !f.served {
		// The token Secret was not confirmed this time round: do not claim it holds the token.
		return readiness{status: metav1.ConditionUnknown, reason: ReasonReconcileError,
			message: fmt.Sprintf("Could not confirm that Secret %s holds the current token: %s; retrying", dl.TokenSecretName(), f.err)}, true
	}
	return r, ok
}

// readyRow is readyFor without its last rule.
func readyRow(f *findings, dl *authv1alpha1.DeviceLogin, st *loginState, now time.Time) (readiness, bool) {
	ds := &dl.Status
	valid := st != nil && st.tokenValid(now)
	if b := f.blocked(blockInvalidSpec); b != nil {
		r := blocked(b, metav1.ConditionFalse)
		if valid {
			r.message += fmt.Sprintf("; Secret %s keeps the last good token until it expires", ds.SecretName)
		}
		return r, true
	}
	if b := f.blocked(blockConflict); b != nil {
		return blocked(b, metav1.ConditionFalse), true
	}
	if b := f.blocked(blockForbidden); b != nil {
		return blocked(b, metav1.ConditionFalse), true
	}
	if b := f.blocked(blockHalt); b != nil {
		return blocked(b, conditionStatus(valid)), true
	}
	if st == nil {
		return readiness{}, false
	}
	pending := st.DeviceCode != "" && ds.UserCode != ""
	switch {
	case valid && pending:
		return readiness{status: metav1.ConditionTrue, reason: ReasonReauthorizationRequired,
			message: fmt.Sprintf("The token in Secret %s %s. %s", dl.TokenSecretName(), expiryText(st), approvalMessage(ds))}, true
	case valid:
		msg := fmt.Sprintf("Secret %s holds an access token that %s", dl.TokenSecretName(), expiryText(st))
		if ds.NextRefreshTime != nil {
			msg += "; next refresh at " + timestamp(ds.NextRefreshTime.Time)
		}
		return readiness{status: metav1.ConditionTrue, reason: ReasonAuthorized, message: msg}, true
	case pending:
		msg := approvalMessage(ds)
		if n := ds.ConsecutiveFailures; n > 0 && ds.NextPollTime != nil {
			msg += fmt.Sprintf(". The last %d token request(s) failed; retrying at %s", n, timestamp(ds.NextPollTime.Time))
		}
		return readiness{status: metav1.ConditionFalse, reason: ReasonAwaitingApproval, message: msg}, true
	}
	if b := f.blocked(blockProvider); b != nil {
		return blocked(b, metav1.ConditionFalse), true
	}
	switch {
	case ds.ConsecutiveFailures > 0 && ds.NextPollTime != nil:
		return readiness{status: metav1.ConditionFalse, reason: ReasonProviderNotReady,
			message: fmt.Sprintf("Requesting a user code from %s failed %d time(s); retrying at %s (see events)",
				providerName(dl), ds.ConsecutiveFailures, timestamp(ds.NextPollTime.Time))}, true
	case st.hasToken():
		r := readiness{status: metav1.ConditionFalse, reason: ReasonReauthorizationRequired,
			message: expiredTokenPrefix(dl) + timestamp(st.Expiry)}
		if rc := meta.FindStatusCondition(ds.Conditions, ConditionTokenRefreshed); rc != nil && rc.Status == metav1.ConditionFalse {
			r.reason = ReasonProviderNotReady
			if rc.Reason == ReasonProviderError {
				r.reason = ReasonProviderError
			}
			r.message += ". " + rc.Message
		}
		return r, true
	}
	return readiness{status: metav1.ConditionFalse, reason: ReasonAwaitingApproval,
		message: fmt.Sprintf("Requesting a user code from %s", providerName(dl))}, true
}

// expiredTokenPrefix starts the Ready message of an expired token (row 10 of readyFor).
func expiredTokenPrefix(dl *authv1alpha1.DeviceLogin) string {
	return fmt.Sprintf("The access token in Secret %s expired at ", dl.TokenSecretName())
}

// blocked is the Ready condition a blocker makes, with the given status.
func blocked(b *blocker, status metav1.ConditionStatus) readiness {
	return readiness{status: status, reason: b.reason, message: b.message, warn: b.warn}
}

// conditionStatus is True or False.
func conditionStatus(ok bool) metav1.ConditionStatus {
	if ok {
		return metav1.ConditionTrue
	}
	return metav1.ConditionFalse
}

// reconcileReady sets the Ready condition from what the steps found (readyFor). Ready is True only
// while the token Secret holds a valid access token; the reason says what, if anything, a person
// has to do. When Ready turns to a reason that no step announced itself (a spec or Secret
// problem, a provider that failed), it sends a Warning event, on the transition only.
func (r *DeviceLoginReconciler) reconcileReady(s *loginScope, f *findings) {
	ready, ok := readyFor(f, s.dl, s.state, s.now)
	if !ok {
		return
	}
	setReady(s.dl, ready.status, ready.reason, ready.message)
	prev := s.prevReady
	if prev != nil && prev.Reason == ready.reason && (ready.reason != ReasonProviderNotReady || prev.Message == ready.message) {
		return
	}
	if ready.warn {
		r.event(s.dl, corev1.EventTypeWarning, ready.reason, "Reconcile", "%s", ready.message)
	}
}
