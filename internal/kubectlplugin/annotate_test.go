package kubectlplugin

import (
	"context"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

func TestAnnotateCommands(t *testing.T) {
	needCluster(t)
	ctx := context.Background()
	dl := createLogin(t, deniedLogin("team-a", "ci-bot"))
	annotation := func(key string) string {
		var got authv1alpha1.DeviceLogin
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(dl), &got); err != nil {
			t.Fatal(err)
		}
		return got.Annotations[key]
	}

	for _, tc := range []struct {
		command, key, golden string
	}{
		{"reauthorize", authv1alpha1.ReauthorizeAnnotation, "reauthorize.golden"},
		{"refresh", authv1alpha1.RefreshAnnotation, "refresh.golden"},
	} {
		t.Run(tc.command, func(t *testing.T) {
			r := runPlugin(ctx, tc.command, "ci-bot")
			if r.code != ExitOK || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			checkGolden(t, tc.golden, r.stdout)
			if got, want := annotation(tc.key), itoa(testNow.Unix()); got != want {
				t.Fatalf("%s = %q, want %q", tc.key, got, want)
			}
			// Twice within a second still gives the operator a new value.
			if r := runPlugin(ctx, tc.command, "ci-bot"); r.code != ExitOK {
				t.Fatalf("second run: exit %d, stderr %q", r.code, r.stderr)
			}
			if got, want := annotation(tc.key), itoa(testNow.Unix()+1); got != want {
				t.Fatalf("after a second run %s = %q, want %q", tc.key, got, want)
			}
		})
	}

	t.Run("not found", func(t *testing.T) {
		r := runPlugin(ctx, "refresh", "nope")
		if r.code != ExitFailed || !strings.Contains(r.stderr, `"nope" not found`) {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
}
