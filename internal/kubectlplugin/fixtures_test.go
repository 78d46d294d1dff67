package kubectlplugin

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// The DeviceLogins of the tests, each with the status the controller writes in that state
// (compare controllers/devicelogin_ready.go). Times are relative to testNow.

func newLogin(ns, name string) *authv1alpha1.DeviceLogin {
	return &authv1alpha1.DeviceLogin{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Generation: 1},
		Spec: authv1alpha1.DeviceLoginSpec{
			ProviderRef: authv1alpha1.ProviderReference{Kind: authv1alpha1.ClusterOAuthProviderKind, Name: "dex"},
			Scopes:      []string{"openid", "email", "offline_access"},
			SecretName:  name + "-token",
		},
	}
}

// setReady stamps the Ready condition and observedGeneration as the controller does.
func setReady(dl *authv1alpha1.DeviceLogin, status metav1.ConditionStatus, reason, message string) *authv1alpha1.DeviceLogin {
	dl.Status.ObservedGeneration = dl.Generation
	dl.Status.SecretName = dl.TokenSecretName()
	cond := metav1.Condition{Type: conditionReady, Status: status, Reason: reason, Message: message,
		ObservedGeneration: dl.Generation, LastTransitionTime: *at(-time.Minute)}
	for i := range dl.Status.Conditions {
		if dl.Status.Conditions[i].Type == conditionReady {
			dl.Status.Conditions[i] = cond
			return dl
		}
	}
	dl.Status.Conditions = append(dl.Status.Conditions, cond)
	return dl
}

// withCode puts a pending user code into status; complete says whether the provider gave a
// verification URI with the code filled in.
func withCode(dl *authv1alpha1.DeviceLogin, code string, complete bool, left time.Duration) *authv1alpha1.DeviceLogin {
	st := &dl.Status
	st.UserCode = code
	st.VerificationURI = "https://dex.example.com/dex/device"
	st.ApprovalURL = st.VerificationURI
	if complete {
		st.VerificationURIComplete = st.VerificationURI + "?user_code=" + code
		st.ApprovalURL = st.VerificationURIComplete
	}
	st.UserCodeExpiresAt = at(left)
	st.PollInterval = 5
	return dl
}

// withToken records an approved grant and a token that expires in left.
func withToken(dl *authv1alpha1.DeviceLogin, left time.Duration) *authv1alpha1.DeviceLogin {
	st := &dl.Status
	st.AuthorizedAt = at(-10 * time.Minute)
	st.AuthorizedSubject = "alice@example.com"
	st.GrantedScopes = []string{"openid", "email", "offline_access"}
	st.TokenExpiresAt = at(left)
	st.NextRefreshTime = at(left * 2 / 3)
	return dl
}

func awaitingLogin(ns, name, code string, complete bool, left time.Duration) *authv1alpha1.DeviceLogin {
	dl := withCode(newLogin(ns, name), code, complete, left)
	return setReady(dl, metav1.ConditionFalse, reasonAwaitingApproval,
		"Visit https://dex.example.com/dex/device and enter code "+code+" (expires "+dl.Status.UserCodeExpiresAt.UTC().Format(time.RFC3339)+")")
}

func requestingLogin(ns, name string) *authv1alpha1.DeviceLogin {
	return setReady(newLogin(ns, name), metav1.ConditionFalse, reasonAwaitingApproval, "Requesting a user code from ClusterOAuthProvider dex")
}

func authorizedLogin(ns, name string) *authv1alpha1.DeviceLogin {
	dl := withToken(newLogin(ns, name), time.Hour)
	return setReady(dl, metav1.ConditionTrue, reasonAuthorized,
		"Secret "+name+"-token holds an access token that expires at 2026-11-28T19:15:48Z; next refresh at 2026-11-28T18:55:48Z")
}

func reauthorizingLogin(ns, name, code string) *authv1alpha1.DeviceLogin {
	dl := withCode(withToken(newLogin(ns, name), 20*time.Minute), code, true, 9*time.Minute)
	return setReady(dl, metav1.ConditionTrue, reasonReauthorizationRequired,
		"The token in Secret "+name+"-token expires at 2026-11-28T18:35:48Z. Visit https://dex.example.com/dex/device and enter code "+code)
}

func deniedLogin(ns, name string) *authv1alpha1.DeviceLogin {
	return setReady(newLogin(ns, name), metav1.ConditionFalse, reasonAccessDenied,
		"The authorization request was denied at ClusterOAuthProvider dex; set the annotation auth.devicelogin.dev/reauthorize to ask again")
}

func codeExpiredLogin(ns, name string) *authv1alpha1.DeviceLogin {
	dl := newLogin(ns, name)
	dl.Spec.CodeExpiryPolicy = authv1alpha1.CodeExpiryStop
	return setReady(dl, metav1.ConditionFalse, reasonCodeExpired,
		"The user code WDJB-MJHT expired at 2026-11-28T18:10:00Z before anyone approved it; set the annotation auth.devicelogin.dev/reauthorize to get a new code")
}

func providerErrorLogin(ns, name string) *authv1alpha1.DeviceLogin {
	return setReady(newLogin(ns, name), metav1.ConditionFalse, reasonProviderError,
		"ClusterOAuthProvider dex ended the device flow: invalid_scope; fix the cause, then set the annotation auth.devicelogin.dev/reauthorize")
}

func providerNotReadyLogin(ns, name string) *authv1alpha1.DeviceLogin {
	return setReady(newLogin(ns, name), metav1.ConditionFalse, reasonProviderNotReady,
		"ClusterOAuthProvider dex is not ready: discovery failed")
}
