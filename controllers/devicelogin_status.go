package controllers

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// Condition types.
const (
	// ConditionReady is True only while the token Secret holds a valid access token.
	ConditionReady = "Ready"
	// ConditionTokenRefreshed says whether the last refresh worked; it turns False while refreshes
	// fail, even though Ready stays True for as long as the current token is valid.
	ConditionTokenRefreshed = "TokenRefreshed"
)

// Reasons of the Ready condition and of events (api.md).
const (
	ReasonAwaitingApproval        = "AwaitingApproval"
	ReasonAuthorized              = "Authorized"
	ReasonCodeExpired             = "CodeExpired"
	ReasonAccessDenied            = "AccessDenied"
	ReasonReauthorizationRequired = "ReauthorizationRequired"
	ReasonProviderNotReady        = "ProviderNotReady"
	ReasonSecretConflict          = "SecretConflict"
	ReasonInvalidSpec             = "InvalidSpec"
	ReasonProviderError           = "ProviderError"

	// ReasonReconcileError: Ready is Unknown because the operator could not confirm the token
	// Secret (an API error); it retries with backoff.
	ReasonReconcileError = "ReconcileError"

	// Event-only reasons.
	EventUserCodeIssued = "UserCodeIssued"
	EventTokenRefreshed = "TokenRefreshed"
	EventRefreshFailed  = "RefreshFailed"

	// Reasons of the TokenRefreshed condition.
	ReasonRefreshSucceeded = "Succeeded"
	ReasonRefreshFailed    = "RefreshFailed"
)

// setReady sets the Ready condition, stamped with the generation being reconciled.
func setReady(dl *authv1alpha1.DeviceLogin, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&dl.Status.Conditions, metav1.Condition{
		Type: ConditionReady, Status: status, Reason: reason, Message: message, ObservedGeneration: dl.Generation,
	})
}

// setRefreshed sets the TokenRefreshed condition.
func setRefreshed(dl *authv1alpha1.DeviceLogin, ok bool, reason, message string) {
	status := metav1.ConditionTrue
	if !ok {
		status = metav1.ConditionFalse
	}
	meta.SetStatusCondition(&dl.Status.Conditions, metav1.Condition{
		Type: ConditionTokenRefreshed, Status: status, Reason: reason, Message: message, ObservedGeneration: dl.Generation,
	})
}

// timestamp formats a time the way status and messages show it.
func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// approvalMessage is what an admin reads to approve a pending code.
func approvalMessage(st *authv1alpha1.DeviceLoginStatus) string {
	url := st.VerificationURI
	if url == "" {
		url = st.ApprovalURL
	}
	msg := fmt.Sprintf("Visit %s and enter code %s", url, st.UserCode)
	if st.UserCodeExpiresAt != nil {
		msg += fmt.Sprintf(" (expires %s)", timestamp(st.UserCodeExpiresAt.Time))
	}
	return msg
}

// clearPendingCode forgets the user code in status (the device code goes with the state Secret).
func clearPendingCode(st *authv1alpha1.DeviceLoginStatus) {
	st.UserCode, st.VerificationURI, st.VerificationURIComplete, st.ApprovalURL = "", "", "", ""
	st.UserCodeExpiresAt, st.NextPollTime, st.PollInterval = nil, nil, 0
}

// mtime returns a pointer to t as a metav1.Time truncated to seconds, as the API server stores it,
// so that comparing before and after does not see a change that is not there.
func mtime(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	m := metav1.NewTime(t.Truncate(time.Second))
	return &m
}

// timeOf returns the time or the zero time.
func timeOf(t *metav1.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

// maxSubjectLength bounds status.authorizedSubject: it comes from the provider.
const maxSubjectLength = 256
