package kubectlplugin

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

func TestWaitCommand(t *testing.T) {
	needCluster(t)
	ctx := context.Background()
	unhandledReauthorize := deniedLogin("team-a", "asked-again")
	unhandledReauthorize.Annotations = map[string]string{authv1alpha1.ReauthorizeAnnotation: "1795889748"}

	for i, tc := range []struct {
		name   string
		dl     *authv1alpha1.DeviceLogin
		args   []string
		code   int
		output string // in stdout when the code is ExitOK, else in stderr
	}{
		{"authorized", authorizedLogin("team-a", ""), []string{"--for=authorized"}, ExitOK,
			"is authorized: Secret w0-token holds a valid access token, approved by alice@example.com"},
		{"pending", awaitingLogin("team-a", "", "WDJB-MJHT", true, time.Minute), []string{"--for=pending"}, ExitOK,
			"has a code waiting for approval: WDJB-MJHT at https://dex.example.com/dex/device?user_code=WDJB-MJHT"},
		{"ready while a new approval waits", reauthorizingLogin("team-a", "", "QQQQ-ZZZZ"), []string{"--for=ready"}, ExitOK, "is ready"},
		{"denied", deniedLogin("team-a", ""), []string{"--for=authorized"}, ExitHalted,
			"will not become authorized: the operator stopped the flow (AccessDenied)"},
		{"code expired with Stop", codeExpiredLogin("team-a", ""), []string{"--for=ready"}, ExitHalted, "(CodeExpired)"},
		{"provider error", providerErrorLogin("team-a", ""), []string{"--for=pending"}, ExitHalted, "(ProviderError)"},
		{"provider not ready is not final", providerNotReadyLogin("team-a", ""), []string{"--for=authorized", "--timeout=1s"}, ExitFailed,
			"did not become authorized within 1s: Waiting for the provider"},
		{"denied, but a reauthorize is not acted on yet", unhandledReauthorize, []string{"--for=authorized", "--timeout=1s"}, ExitFailed,
			"did not become authorized within 1s"},
		{"--timeout=0 checks once", awaitingLogin("team-a", "", "WDJB-MJHT", true, time.Minute), []string{"--for=authorized", "--timeout=0"}, ExitFailed,
			"did not become authorized at once (--timeout=0): Waiting for someone to approve code WDJB-MJHT."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := fmt.Sprintf("w%d", i)
			dl := tc.dl.DeepCopy()
			dl.Name, dl.Spec.SecretName, dl.Status.SecretName = name, name+"-token", name+"-token"
			createLogin(t, dl)
			r := runPlugin(ctx, append([]string{"wait", name, "--timeout=30s"}, tc.args...)...)
			out := r.stdout
			if tc.code != ExitOK {
				out = r.stderr
			}
			if r.code != tc.code || !strings.Contains(out, tc.output) {
				t.Fatalf("exit %d, want %d; stdout %q; stderr %q; want %q", r.code, tc.code, r.stdout, r.stderr, tc.output)
			}
		})
	}

	for _, tc := range []struct {
		name, args, stderr string
	}{
		{"not found", "wait nope --for=ready", `"nope" not found`},
		{"unknown condition", "wait nope --for=approved", `--for="approved": want authorized, ready or pending`},
		{"no condition", "wait nope", `required flag(s) "for" not set`},
		{"negative timeout", "wait nope --for=ready --timeout=-1s", "want zero or more"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runPlugin(ctx, strings.Fields(tc.args)...)
			if r.code != ExitFailed || !strings.Contains(r.stderr, tc.stderr) {
				t.Fatalf("exit %d, stderr %q, want %q", r.code, r.stderr, tc.stderr)
			}
		})
	}
}

// TestWaitFollowsChanges changes the status while wait watches. The sleep only makes it likely
// that the change comes through the watch rather than the first read; the outcome is the same
// either way.
func TestWaitFollowsChanges(t *testing.T) {
	needCluster(t)
	ctx := context.Background()
	start := func(name string, args ...string) <-chan result {
		done := make(chan result, 1)
		go func() { done <- runPlugin(ctx, append([]string{"wait", name, "--timeout=60s"}, args...)...) }()
		time.Sleep(time.Second)
		return done
	}

	t.Run("approved", func(t *testing.T) {
		dl := createLogin(t, awaitingLogin("team-a", "approved", "WDJB-MJHT", true, time.Minute))
		done := start("approved", "--for=authorized")
		writeStatus(t, dl, authorizedLogin("team-a", "approved").Status)
		if r := <-done; r.code != ExitOK || !strings.Contains(r.stdout, "team-a/approved is authorized") {
			t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("denied", func(t *testing.T) {
		dl := createLogin(t, awaitingLogin("team-a", "refused", "WDJB-MJHT", true, time.Minute))
		done := start("refused", "--for=authorized")
		writeStatus(t, dl, deniedLogin("team-a", "refused").Status)
		if r := <-done; r.code != ExitHalted || !strings.Contains(r.stderr, "(AccessDenied)") {
			t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("deleted", func(t *testing.T) {
		dl := createLogin(t, awaitingLogin("team-a", "gone", "WDJB-MJHT", true, time.Minute))
		done := start("gone", "--for=authorized")
		if err := k8s.Delete(ctx, dl); err != nil {
			t.Fatal(err)
		}
		if r := <-done; r.code != ExitFailed || !strings.Contains(r.stderr, "team-a/gone was deleted while waiting") {
			t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("spec changed: the old status does not count", func(t *testing.T) {
		dl := createLogin(t, authorizedLogin("team-a", "rescoped"))
		dl.Spec.Scopes = append(dl.Spec.Scopes, "groups")
		if err := k8s.Update(ctx, dl); err != nil {
			t.Fatal(err)
		}
		if dl.Generation != 2 {
			t.Fatalf("generation %d after a spec change", dl.Generation)
		}
		if r := runPlugin(ctx, "wait", "rescoped", "--for=authorized", "--timeout=0"); r.code != ExitFailed {
			t.Fatalf("with the status of generation 1: exit %d, stdout %q", r.code, r.stdout)
		}
		done := start("rescoped", "--for=authorized")
		st := authorizedLogin("team-a", "rescoped").Status
		st.Conditions[0].LastTransitionTime = metav1.Now()
		writeStatus(t, dl, st)
		if r := <-done; r.code != ExitOK {
			t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})
}
