package kubectlplugin

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// describeLogin writes where a DeviceLogin stands, in words and in fields, as `kubectl describe`
// lays them out. It uses the DeviceLogin alone: nothing in it comes from a Secret.
func describeLogin(w io.Writer, dl *authv1alpha1.DeviceLogin, now time.Time) error {
	st := &dl.Status
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	field := func(label, value string) {
		if value != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", label, oneLine(value))
		}
	}
	field("Name", dl.Name)
	field("Namespace", dl.Namespace)
	field("Provider", providerName(dl))
	field("Scopes", strings.Join(dl.Spec.Scopes, " "))
	field("Status", statusInWords(dl))
	if c := readyCondition(dl); c != nil {
		field("Ready", fmt.Sprintf("%s (%s)", c.Status, c.Reason))
		field("Message", c.Message)
	}
	if st.UserCode != "" {
		field("User code", st.UserCode)
		field("Approve at", approvalURL(st))
		if st.VerificationURI != "" && st.VerificationURI != approvalURL(st) {
			field("Or type it at", st.VerificationURI)
		}
		if st.UserCodeExpiresAt != nil {
			field("Code expires", when(now, st.UserCodeExpiresAt))
		}
	}
	field("Approved by", st.AuthorizedSubject)
	field("Approved at", optionalTime(now, st.AuthorizedAt))
	field("Granted scopes", strings.Join(st.GrantedScopes, " "))
	switch {
	case st.TokenExpiresAt != nil:
		field("Token expires", when(now, st.TokenExpiresAt))
	case st.AuthorizedAt != nil:
		field("Token expires", "never (the provider gave no expiry)")
	}
	field("Last refresh", optionalTime(now, st.LastRefreshTime))
	field("Next refresh", optionalTime(now, st.NextRefreshTime))
	if c := meta.FindStatusCondition(st.Conditions, conditionTokenRefreshed); c != nil {
		field("Refresh", fmt.Sprintf("%s (%s) %s", c.Status, c.Reason, c.Message))
	}
	field("Secret", st.SecretName)
	for _, n := range notes(dl) {
		field("Note", n)
	}
	return tw.Flush()
}

// statusInWords says in one sentence where the login stands and what, if anything, a person
// has to do.
func statusInWords(dl *authv1alpha1.DeviceLogin) string {
	c := readyCondition(dl)
	if c == nil {
		return "Not reconciled yet: the operator has not written a status (is it running?)."
	}
	reauthorize := fmt.Sprintf("kubectl devicelogin reauthorize %s -n %s", dl.Name, dl.Namespace)
	stillWorks := ""
	if c.Status == metav1.ConditionTrue {
		stillWorks = " The current token works until it expires."
	}
	switch c.Reason {
	case reasonAwaitingApproval:
		if dl.Status.UserCode == "" {
			return "Requesting a user code from the provider."
		}
		return fmt.Sprintf("Waiting for someone to approve code %s.", dl.Status.UserCode)
	case reasonAuthorized:
		return fmt.Sprintf("Authorized: Secret %s holds a valid access token.", dl.TokenSecretName())
	case reasonReauthorizationRequired:
		if c.Status == metav1.ConditionTrue && dl.Status.UserCode != "" {
			return fmt.Sprintf("A new approval is needed: code %s waits.%s", dl.Status.UserCode, stillWorks)
		}
		return fmt.Sprintf("A new approval is needed: the token expired and was not refreshed. Run: %s", reauthorize)
	case reasonCodeExpired:
		return fmt.Sprintf("Stopped: the code expired before anyone approved it.%s Run: %s", stillWorks, reauthorize)
	case reasonAccessDenied:
		return fmt.Sprintf("Stopped: the request was denied at the provider.%s Run: %s", stillWorks, reauthorize)
	case reasonProviderError:
		return fmt.Sprintf("Stopped: the provider ended the flow (see Message).%s Fix the cause, then run: %s", stillWorks, reauthorize)
	case reasonProviderNotReady:
		return "Waiting for the provider: the operator retries by itself (see Message)."
	case reasonSecretConflict:
		return fmt.Sprintf("Blocked: Secret %s exists and does not belong to this DeviceLogin; delete it or set spec.secretName.", dl.TokenSecretName())
	case reasonInvalidSpec:
		return "Blocked: the spec is invalid (see Message); fix the DeviceLogin."
	}
	return fmt.Sprintf("Ready is %s (%s).", c.Status, c.Reason)
}

// notes says where status may lag behind the object: a spec change or an annotation the
// operator has not acted on yet.
func notes(dl *authv1alpha1.DeviceLogin) []string {
	var out []string
	if dl.Status.ObservedGeneration != dl.Generation {
		out = append(out, fmt.Sprintf("the operator has not reconciled the latest spec yet (generation %d, status is of %d)",
			dl.Generation, dl.Status.ObservedGeneration))
	}
	if unhandledAnnotation(dl, authv1alpha1.ReauthorizeAnnotation) {
		out = append(out, "a reauthorization was asked for and the operator has not acted on it yet")
	}
	if unhandledAnnotation(dl, authv1alpha1.RefreshAnnotation) {
		out = append(out, "a refresh was asked for and the operator has not acted on it yet")
	}
	return out
}

// optionalTime is when(now, t), or "" when t is not set so that the field is left out.
func optionalTime(now time.Time, t *metav1.Time) string {
	if t == nil {
		return ""
	}
	return when(now, t)
}
