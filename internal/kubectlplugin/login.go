package kubectlplugin

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// Condition types and Ready reasons of a DeviceLogin, as docs/api.md fixes them. They are spelled
// out here so that the plugin does not import the controllers.
const (
	conditionReady          = "Ready"
	conditionTokenRefreshed = "TokenRefreshed"

	reasonAwaitingApproval        = "AwaitingApproval"
	reasonAuthorized              = "Authorized"
	reasonCodeExpired             = "CodeExpired"
	reasonAccessDenied            = "AccessDenied"
	reasonReauthorizationRequired = "ReauthorizationRequired"
	reasonProviderNotReady        = "ProviderNotReady"
	reasonSecretConflict          = "SecretConflict"
	reasonInvalidSpec             = "InvalidSpec"
	reasonProviderError           = "ProviderError"
)

// haltedReasons are the Ready reasons with which the operator stops the flow until someone sets
// the reauthorize annotation or changes the spec: the code was denied, expired under
// codeExpiryPolicy Stop, or the provider ended the flow.
var haltedReasons = map[string]bool{reasonAccessDenied: true, reasonCodeExpired: true, reasonProviderError: true}

// readyCondition returns the Ready condition, or nil before the operator first wrote one.
func readyCondition(dl *authv1alpha1.DeviceLogin) *metav1.Condition {
	return meta.FindStatusCondition(dl.Status.Conditions, conditionReady)
}

// readyReason returns the reason of the Ready condition, or "" when there is none.
func readyReason(dl *authv1alpha1.DeviceLogin) string {
	if c := readyCondition(dl); c != nil {
		return c.Reason
	}
	return ""
}

// waitingForApproval reports whether a user code waits for someone to approve it: the Ready
// reason is AwaitingApproval or ReauthorizationRequired and status holds the code.
func waitingForApproval(dl *authv1alpha1.DeviceLogin) bool {
	switch readyReason(dl) {
	case reasonAwaitingApproval, reasonReauthorizationRequired:
		return dl.Status.UserCode != ""
	}
	return false
}

// approvalURL is the page to open for a pending code: the complete verification URI (with the
// code filled in) when the provider gives one, else the page where the code is typed.
func approvalURL(st *authv1alpha1.DeviceLoginStatus) string {
	for _, u := range []string{st.ApprovalURL, st.VerificationURIComplete, st.VerificationURI} {
		if u != "" {
			return u
		}
	}
	return ""
}

// providerName is the referenced provider as kind/name; the kind defaults to OAuthProvider.
func providerName(dl *authv1alpha1.DeviceLogin) string {
	kind := dl.Spec.ProviderRef.Kind
	if kind == "" {
		kind = authv1alpha1.OAuthProviderKind
	}
	return string(kind) + "/" + dl.Spec.ProviderRef.Name
}

// current reports whether status describes the object as it is now: the operator has reconciled
// this generation of the spec and has acted on the last reauthorize and refresh annotations. A
// status that is not current may still show what was true before a user's last change (a halted
// flow right after `reauthorize`, say), so wait does not judge by it.
func current(dl *authv1alpha1.DeviceLogin) bool {
	if dl.Status.ObservedGeneration != dl.Generation {
		return false
	}
	if c := readyCondition(dl); c == nil || c.ObservedGeneration != dl.Generation {
		return false
	}
	return !unhandledAnnotation(dl, authv1alpha1.ReauthorizeAnnotation) &&
		!unhandledAnnotation(dl, authv1alpha1.RefreshAnnotation)
}

// unhandledAnnotation reports whether the annotation holds a value the operator has not acted on.
func unhandledAnnotation(dl *authv1alpha1.DeviceLogin, key string) bool {
	v := dl.Annotations[key]
	if v == "" {
		return false
	}
	switch key {
	case authv1alpha1.ReauthorizeAnnotation:
		return v != dl.Status.LastHandledReauthorize
	case authv1alpha1.RefreshAnnotation:
		return v != dl.Status.LastHandledRefresh
	}
	return false
}

// halted reports whether the operator stopped the flow and will not go on by itself.
func halted(dl *authv1alpha1.DeviceLogin) bool {
	return current(dl) && haltedReasons[readyReason(dl)]
}
