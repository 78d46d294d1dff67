package controllers

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"

	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
)

// Issue 10 item 9: a provider call still runs when the manager shuts down (the reconcile's context
// is cancelled), so that an answer carrying a rotated refresh token is not dropped.
func TestUnitProviderCallsOutliveShutdown(t *testing.T) {
	h, issued := uAuthorized(t)
	var callErr error
	h.flow.RefreshFn = func(ctx context.Context, _ oauth.ClientConfig, _ string) (*oauth.Token, error) {
		callErr = ctx.Err()
		return uToken(2, uLife), nil
	}
	h.stepTo(issued.Add(uLife))
	ctx, cancel := context.WithCancel(h.ctx)
	cancel() // the manager is stopping
	h.ctx = ctx
	_, _ = h.reconcile()
	if callErr != nil {
		t.Errorf("the refresh ran with a cancelled context (%v): its answer would be lost at shutdown", callErr)
	}
	if got := string(h.mustSecret(uStateName).Data[KeyRefreshToken]); got != "REFRESH-TOKEN-2" {
		t.Errorf("state refresh_token = %q after a refresh during shutdown, want the rotated one", got)
	}
}

// Issue 10 item 9: the pod's grace period outlasts a provider call plus the state write that
// follows it, so that a reconcile in flight at SIGTERM can finish.
func TestTerminationGracePeriodCoversTheWriteBudget(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "config", "manager", "manager.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var dep appsv1.Deployment
	for _, doc := range strings.Split(string(raw), "\n---") {
		if err := yaml.Unmarshal([]byte(doc), &dep); err != nil {
			t.Fatal(err)
		}
		if dep.Kind == "Deployment" {
			break
		}
	}
	grace := dep.Spec.Template.Spec.TerminationGracePeriodSeconds
	if grace == nil {
		t.Fatal("config/manager/manager.yaml sets no terminationGracePeriodSeconds")
	}
	if need := providerBudget + stateWriteBudget; time.Duration(*grace)*time.Second <= need {
		t.Errorf("terminationGracePeriodSeconds = %d, want more than %s (a provider call plus a state write)", *grace, need)
	}
}
