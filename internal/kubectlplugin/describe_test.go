package kubectlplugin

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// TestDescribeLogin writes every state of a DeviceLogin into one golden file.
func TestDescribeLogin(t *testing.T) {
	refreshFailed := authorizedLogin("team-a", "flaky")
	refreshFailed.Status.LastRefreshTime = at(-20 * time.Minute)
	refreshFailed.Status.Conditions = append(refreshFailed.Status.Conditions, metav1.Condition{
		Type: conditionTokenRefreshed, Status: metav1.ConditionFalse, Reason: "RefreshFailed",
		Message: "The refresh at 2026-11-28T18:10:00Z failed: HTTP 503; retrying at 2026-11-28T18:16:30Z", LastTransitionTime: *at(-5 * time.Minute)})
	pendingSpec := authorizedLogin("team-a", "edited")
	pendingSpec.Generation = 2
	pendingSpec.Annotations = map[string]string{authv1alpha1.ReauthorizeAnnotation: "1795889748"}
	conflict := setReady(newLogin("team-a", "clash"), metav1.ConditionFalse, reasonSecretConflict,
		"Secret clash-token exists and is not owned by this DeviceLogin")
	injected := setReady(newLogin("team-a", "evil"), metav1.ConditionFalse, reasonProviderError,
		"provider said: boom\nReady:\tTrue\x1b[2J")

	var b strings.Builder
	for _, dl := range []*authv1alpha1.DeviceLogin{
		newLogin("team-a", "fresh"),
		requestingLogin("team-a", "starting"),
		awaitingLogin("team-a", "ci-bot", "WDJB-MJHT", true, 4*time.Minute+12*time.Second),
		awaitingLogin("team-a", "github", "ABCD-1234", false, 14*time.Minute),
		authorizedLogin("team-a", "deployer"),
		refreshFailed,
		reauthorizingLogin("team-b", "nightly", "QQQQ-ZZZZ"),
		deniedLogin("team-a", "denied"),
		codeExpiredLogin("team-a", "stopped"),
		providerErrorLogin("team-a", "broken"),
		providerNotReadyLogin("team-a", "waiting"),
		conflict,
		pendingSpec,
		injected,
	} {
		b.WriteString("### " + dl.Name + "\n")
		if err := describeLogin(&b, dl, testNow); err != nil {
			t.Fatal(err)
		}
	}
	if strings.ContainsRune(b.String(), '\x1b') {
		t.Error("an escape sequence from status reached the output")
	}
	checkGolden(t, "describe.golden", b.String())
}
