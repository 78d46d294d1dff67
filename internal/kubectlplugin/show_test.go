package kubectlplugin

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestShowCommand(t *testing.T) {
	needCluster(t)
	ctx := context.Background()
	createLogin(t, awaitingLogin("team-a", "ci-bot", "WDJB-MJHT", true, 4*time.Minute+12*time.Second))
	createLogin(t, awaitingLogin("team-a", "github-sync", "ABCD-1234", false, 14*time.Minute))
	createLogin(t, authorizedLogin("team-a", "deployer"))
	createLogin(t, deniedLogin("team-b", "denied"))

	for _, tc := range []struct {
		name   string
		args   []string
		golden string
	}{
		{"awaiting approval", []string{"show", "ci-bot"}, "show-awaiting.golden"},
		{"awaiting approval with a QR code", []string{"show", "ci-bot", "--qr"}, "show-awaiting-qr.golden"},
		{"QR code of a URL without the code", []string{"show", "github-sync", "--qr", "--invert"}, "show-awaiting-qr-invert.golden"},
		{"authorized, no code for a QR code", []string{"show", "deployer", "--qr"}, "show-authorized.golden"},
		{"denied, in another namespace", []string{"show", "denied", "-n", "team-b"}, "show-denied.golden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runPlugin(ctx, tc.args...)
			if r.code != ExitOK || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			checkGolden(t, tc.golden, r.stdout)
		})
	}

	t.Run("not found", func(t *testing.T) {
		r := runPlugin(ctx, "show", "nope")
		if r.code != ExitFailed || !strings.Contains(r.stderr, `"nope" not found`) {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
}

// TestShowNeverPrintsSecretValues puts token values where a careless plugin would look and
// checks that none reaches the output.
func TestShowNeverPrintsSecretValues(t *testing.T) {
	needCluster(t)
	ctx := context.Background()
	createLogin(t, authorizedLogin("team-a", "deployer"))
	const value = "eyJhbGciOi-plugin-test-access-token"
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "deployer-token"},
		StringData: map[string]string{"access_token": value, "refresh_token": value + "-refresh"},
	}
	if err := k8s.Create(ctx, sec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), sec) })
	for _, args := range [][]string{{"show", "deployer", "--qr"}, {"pending", "-A"}, {"wait", "deployer", "--for=ready"}} {
		r := runPlugin(ctx, args...)
		if r.code != ExitOK {
			t.Fatalf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, value) {
			t.Errorf("%v printed a token value", args)
		}
	}
}
