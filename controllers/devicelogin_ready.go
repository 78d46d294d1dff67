package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// reconcileReady sets the Ready condition from what this reconcile found. Ready is True only while
// the token Secret holds a valid access token; the reason says what, if anything, a person has to
// do. Every message is built from absolute times only, so that a reconcile that changes nothing
// writes nothing.
func (r *DeviceLoginReconciler) reconcileReady(_ context.Context, s *loginScope) {
	dl, st := s.dl, s.state
	prev := s.prevReady
	valid := st != nil && st.tokenValid(s.now)
	status := func(ok bool) metav1.ConditionStatus {
		if ok {
			return metav1.ConditionTrue
		}
		return metav1.ConditionFalse
	}
	var c metav1.ConditionStatus
	var reason, msg string
	switch {
	case s.invalidSpec != "":
		c, reason, msg = metav1.ConditionFalse, ReasonInvalidSpec, s.invalidSpec
		if valid {
			msg += fmt.Sprintf("; Secret %s keeps the last good token until it expires", dl.Status.SecretName)
		}
	case s.conflict != "":
		c, reason, msg = metav1.ConditionFalse, ReasonSecretConflict, s.conflict
	case s.forbidden:
		c, reason, msg = metav1.ConditionFalse, ReasonProviderNotReady, s.providerProblem
	case s.halt != nil:
		c, reason, msg = status(valid), s.halt.reason, s.halt.message
	case valid && s.pending():
		c, reason = metav1.ConditionTrue, ReasonReauthorizationRequired
		msg = fmt.Sprintf("The token in Secret %s %s. %s", dl.TokenSecretName(), expiryText(st), approvalMessage(&dl.Status))
	case valid:
		c, reason = metav1.ConditionTrue, ReasonAuthorized
		msg = fmt.Sprintf("Secret %s holds an access token that %s", dl.TokenSecretName(), expiryText(st))
		if dl.Status.NextRefreshTime != nil {
			msg += "; next refresh at " + timestamp(dl.Status.NextRefreshTime.Time)
		}
	case s.pending():
		c, reason, msg = metav1.ConditionFalse, ReasonAwaitingApproval, approvalMessage(&dl.Status)
		if n := dl.Status.ConsecutiveFailures; n > 0 && dl.Status.NextPollTime != nil {
			msg += fmt.Sprintf(". The last %d token request(s) failed; retrying at %s", n, timestamp(dl.Status.NextPollTime.Time))
		}
	case s.providerProblem != "":
		c, reason, msg = metav1.ConditionFalse, ReasonProviderNotReady, s.providerProblem
	case dl.Status.ConsecutiveFailures > 0 && dl.Status.NextPollTime != nil:
		c, reason = metav1.ConditionFalse, ReasonProviderNotReady
		msg = fmt.Sprintf("Requesting a user code from %s failed %d time(s); retrying at %s (see events)",
			providerName(dl), dl.Status.ConsecutiveFailures, timestamp(dl.Status.NextPollTime.Time))
	case st != nil && st.hasToken():
		c, reason = metav1.ConditionFalse, ReasonReauthorizationRequired
		msg = fmt.Sprintf("The access token in Secret %s expired at %s", dl.TokenSecretName(), timestamp(st.Expiry))
		if rc := meta.FindStatusCondition(dl.Status.Conditions, ConditionTokenRefreshed); rc != nil && rc.Status == metav1.ConditionFalse {
			c, reason = metav1.ConditionFalse, ReasonProviderNotReady
			if rc.Reason == ReasonProviderError {
				reason = ReasonProviderError
			}
			msg += ". " + rc.Message
		}
	default:
		c, reason = metav1.ConditionFalse, ReasonAwaitingApproval
		msg = fmt.Sprintf("Requesting a user code from %s", providerName(dl))
	}
	if s.stepErr != nil && c == metav1.ConditionTrue && !s.secretWritten {
		// The token Secret was not confirmed this time round: do not claim it holds the token.
		c, reason = metav1.ConditionUnknown, ReasonReconcileError
		msg = fmt.Sprintf("Could not confirm that Secret %s holds the current token: %s; retrying", dl.TokenSecretName(), s.stepErr)
	}
	setReady(dl, c, reason, msg)

	if prev != nil && prev.Reason == reason && (reason != ReasonProviderNotReady || prev.Message == msg) {
		return
	}
	// Events for the reasons no step announces itself, on the transition only.
	switch reason {
	case ReasonSecretConflict, ReasonInvalidSpec:
		r.event(dl, corev1.EventTypeWarning, reason, "Reconcile", "%s", msg)
	case ReasonProviderNotReady:
		// A provider still being resolved (at start-up, say) is not worth a warning; one that
		// failed is.
		if s.providerProblem != "" && s.providerFailed {
			r.event(dl, corev1.EventTypeWarning, reason, "Reconcile", "%s", msg)
		}
	}
}
