package kubectlplugin

import (
	"context"
	"testing"
	"time"
)

func TestPendingCommand(t *testing.T) {
	needCluster(t)
	ctx := context.Background()
	createLogin(t, awaitingLogin("team-a", "ci-bot", "WDJB-MJHT", true, 4*time.Minute+12*time.Second))
	createLogin(t, awaitingLogin("team-a", "github-sync", "ABCD-1234", false, 14*time.Minute))
	createLogin(t, awaitingLogin("team-a", "late", "LATE-0000", true, -30*time.Second))
	createLogin(t, reauthorizingLogin("team-b", "nightly", "QQQQ-ZZZZ"))
	// Not waiting for anyone: none of these may show.
	createLogin(t, requestingLogin("team-a", "starting"))
	createLogin(t, authorizedLogin("team-a", "deployer"))
	createLogin(t, deniedLogin("team-b", "denied"))
	createLogin(t, newLogin("team-b", "fresh"))

	for _, tc := range []struct {
		name   string
		args   []string
		golden string
	}{
		{"all namespaces", []string{"pending", "-A"}, "pending-all-namespaces.golden"},
		{"the context's namespace", []string{"pending"}, "pending-team-a.golden"},
		{"-n", []string{"pending", "-n", "team-b"}, "pending-team-b.golden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runPlugin(ctx, tc.args...)
			if r.code != ExitOK || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			checkGolden(t, tc.golden, r.stdout)
		})
	}

	t.Run("none waiting", func(t *testing.T) {
		ensureNamespace(t, "quiet")
		r := runPlugin(ctx, "pending", "-n", "quiet")
		if r.code != ExitOK || r.stdout != "" || r.stderr != noPendingMessage+"\n" {
			t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})
}
