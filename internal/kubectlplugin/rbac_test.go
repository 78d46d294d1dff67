package kubectlplugin

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestCommandsNeedOnlyDeviceLoginAccess runs every command as a user whose RBAC covers
// devicelogins and nothing else (no Secrets): each works, so none reads a Secret.
func TestCommandsNeedOnlyDeviceLoginAccess(t *testing.T) {
	needCluster(t)
	ctx := context.Background()
	createLogin(t, awaitingLogin("team-a", "ci-bot", "WDJB-MJHT", true, 4*time.Minute))
	grantLoginAccess(t, "team-a", "approver", "get", "list", "watch", "patch")
	grantLoginAccess(t, "team-a", "viewer", "get", "list", "watch")

	// The user really cannot read Secrets, so the runs below prove something.
	cfg := rest.CopyConfig(testEnv.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "approver"}
	as, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := as.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "ci-bot-token"}, &corev1.Secret{}); !apierrors.IsForbidden(err) {
		t.Fatalf("want the approver forbidden to read Secrets, got %v", err)
	}

	for _, args := range [][]string{
		{"pending"},
		{"show", "ci-bot", "--qr"},
		{"wait", "ci-bot", "--for=pending", "--timeout=10s"},
		{"reauthorize", "ci-bot"},
		{"refresh", "ci-bot"},
	} {
		r := runPlugin(ctx, append(args, "--as", "approver")...)
		if r.code != ExitOK {
			t.Errorf("%v as approver: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}

	r := runPlugin(ctx, "reauthorize", "ci-bot", "--as", "viewer")
	if r.code != ExitFailed || !strings.Contains(r.stderr, "forbidden") {
		t.Errorf("reauthorize as viewer: exit %d, stderr %q", r.code, r.stderr)
	}
}
