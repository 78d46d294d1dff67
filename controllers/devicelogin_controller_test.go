package controllers

// Tests of what devicelogin_controller.go does itself: the backoff of transient failures, the
// steady state of Reconcile, and the triggers step (reconcileTriggers: the annotations, and the
// binding of stored grants to the provider instance that issued them). Harness: harness_unit_test.go.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth/oauthtest"
)

// backoff doubles from 5s, stops doubling at 5m and jitters by up to 20% either way. The bounds are
// written out, not computed from backoffBase and backoffCap, so that changing either fails here; 500
// draws also reach the outer eighth of the range at both ends, so a narrower jitter fails too.
func TestUnitBackoff(t *testing.T) {
	tests := []struct {
		n      int32
		lo, hi time.Duration
	}{
		{0, 4 * time.Second, 6 * time.Second}, // as the first failure
		{1, 4 * time.Second, 6 * time.Second},
		{2, 8 * time.Second, 12 * time.Second},
		{3, 16 * time.Second, 24 * time.Second},
		{4, 32 * time.Second, 48 * time.Second},
		{5, 64 * time.Second, 96 * time.Second},
		{6, 128 * time.Second, 192 * time.Second},
		{7, 4 * time.Minute, 6 * time.Minute}, // 320s, capped at 5m
		{8, 4 * time.Minute, 6 * time.Minute},
		{9, 4 * time.Minute, 6 * time.Minute},
		{10, 4 * time.Minute, 6 * time.Minute},
		{11, 4 * time.Minute, 6 * time.Minute},
		{12, 4 * time.Minute, 6 * time.Minute},
		{15, 4 * time.Minute, 6 * time.Minute},
		{20, 4 * time.Minute, 6 * time.Minute},
		{40, 4 * time.Minute, 6 * time.Minute}, // past the bits of a Duration, were it shifted
		{1 << 30, 4 * time.Minute, 6 * time.Minute},
		{2147483647, 4 * time.Minute, 6 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.n), func(t *testing.T) {
			least, most := time.Duration(1<<62), time.Duration(0)
			seen := map[time.Duration]bool{}
			for range 500 {
				d := backoff(tt.n)
				if d < tt.lo || d > tt.hi {
					t.Fatalf("backoff(%d) = %s, want within [%s, %s]", tt.n, d, tt.lo, tt.hi)
				}
				if d > 6*time.Minute {
					t.Fatalf("backoff(%d) = %s exceeds the cap plus jitter", tt.n, d)
				}
				least, most = min(least, d), max(most, d)
				seen[d] = true
			}
			if len(seen) < 2 {
				t.Errorf("backoff(%d) has no jitter", tt.n)
			}
			if edge := (tt.hi - tt.lo) / 8; least > tt.lo+edge || most < tt.hi-edge {
				t.Errorf("backoff(%d) over 500 draws stayed within [%s, %s]: the jitter is narrower than [%s, %s]",
					tt.n, least, most, tt.lo, tt.hi)
			}
		})
	}
}

// An authorized DeviceLogin with nothing due costs nothing: no write, no provider call, no event,
// and the reconcile comes back at nextRefreshTime.
func TestUnitReconcileSteadyState(t *testing.T) {
	h, _ := uAuthorized(t)
	before := h.rvs()

	res := h.mustReconcile()
	uCalls(t, h.flow, nil)
	if after := h.rvs(); after != before {
		t.Errorf("resourceVersions (DeviceLogin, state, token) %v -> %v", before, after)
	}
	if res.RequeueAfter <= 0 || res.RequeueAfter != h.dl().Status.NextRefreshTime.Sub(h.clock.Now()) {
		t.Errorf("RequeueAfter = %s, want until nextRefreshTime %v", res.RequeueAfter, h.dl().Status.NextRefreshTime)
	}

	h.resetCounts()
	for range 60 {
		h.clock.Step(time.Second)
		h.mustReconcile()
	}
	writes := h.writeCount()
	t.Logf("MEASURE steady-state writes over 60 reconciles: %d", writes)
	if writes != 0 {
		t.Errorf("steady state wrote: %v", h.traceSnapshot())
	}
	if n := h.flow.TotalCalls(); n != 0 {
		t.Errorf("steady state called the provider %d time(s)", n)
	}
	if after := h.rvs(); after != before {
		t.Errorf("resourceVersions (DeviceLogin, state, token) %v -> %v", before, after)
	}
	if ev := h.allEvents(); len(ev) != 0 {
		t.Errorf("steady state events: %q", ev)
	}
	h.assertNoSecretsLeaked()
}

// The reauthorize annotation set while the provider is not Ready is acted on once it is, not marked
// handled and forgotten.
func TestUnitTriggersReauthorizeWaitsForTheProvider(t *testing.T) {
	h := newUHarness(t)
	h.authorize(uToken(1, uLife))
	setProviderReady := func(ready bool) {
		h.updateProvider(func(p *authv1alpha1.OAuthProvider) {
			p.Status.Conditions[0].Status = metav1.ConditionFalse
			if ready {
				p.Status.Conditions[0].Status = metav1.ConditionTrue
			}
		})
	}
	setProviderReady(false)
	h.updateDL(func(dl *authv1alpha1.DeviceLogin) {
		dl.Annotations = map[string]string{authv1alpha1.ReauthorizeAnnotation: "1"}
	})
	h.mustReconcile()
	dl := h.dl()
	if dl.Status.LastHandledReauthorize != "" || h.flow.Calls(oauthtest.MethodRequestDeviceCode) != 1 {
		t.Fatalf("reauthorize handled without a provider (lastHandled %q, %d codes)",
			dl.Status.LastHandledReauthorize, h.flow.Calls(oauthtest.MethodRequestDeviceCode))
	}
	setProviderReady(true)
	h.mustReconcile()
	dl = h.dl()
	if dl.Status.LastHandledReauthorize != "1" || h.flow.Calls(oauthtest.MethodRequestDeviceCode) != 2 || dl.Status.UserCode == "" {
		t.Fatalf("reauthorize not acted on once the provider is back (lastHandled %q, %d codes, code %q)",
			dl.Status.LastHandledReauthorize, h.flow.Calls(oauthtest.MethodRequestDeviceCode), dl.Status.UserCode)
	}
}

// recreateProvider deletes the provider and creates it again under the same name, as a new
// instance (another UID) whose controller resolved the same endpoints.
func (h *uHarness) recreateProvider(uid types.UID) {
	h.t.Helper()
	if err := h.raw.Delete(h.ctx, &authv1alpha1.OAuthProvider{ObjectMeta: metav1.ObjectMeta{Name: uIDP, Namespace: uNS}}); err != nil {
		h.t.Fatal(err)
	}
	p := uReadyProvider()
	p.UID = uid
	status := *p.Status.DeepCopy()
	if err := h.raw.Create(h.ctx, p); err != nil {
		h.t.Fatal(err)
	}
	p.Status = status
	if err := h.raw.Status().Update(h.ctx, p); err != nil {
		h.t.Fatal(err)
	}
	if p.UID != uid {
		h.t.Fatalf("the recreated provider has UID %q, want %q", p.UID, uid)
	}
}

// Issue 9 item 2: a provider recreated under the same name, or whose token endpoint moved, never
// gets the stored refresh token (nor a pending device code): a new approval is asked for while the
// current token is served.
func TestUnitTriggersProviderBinding(t *testing.T) {
	withUID := func(s *uSetup) { s.provider.UID = "provider-uid-1" }
	for name, change := range map[string]func(h *uHarness){
		"provider recreated": func(h *uHarness) { h.recreateProvider("provider-uid-2") },
		"tokenURL changed": func(h *uHarness) {
			h.updateProvider(func(p *authv1alpha1.OAuthProvider) { p.Status.TokenURL = "https://elsewhere.example.com/token" })
		},
	} {
		t.Run(name, func(t *testing.T) {
			h, _ := uAuthorized(t, withUID)
			var refreshed []string
			h.flow.RefreshFn = func(_ context.Context, cfg oauth.ClientConfig, rt string) (*oauth.Token, error) {
				refreshed = append(refreshed, rt+" to "+cfg.Endpoints.TokenURL)
				return uToken(9, uLife), nil
			}
			change(h)
			h.stepTo(h.dl().Status.NextRefreshTime.Time) // the refresh is due
			for range 3 {
				h.mustReconcile()
				h.clock.Step(time.Second)
			}
			if len(refreshed) != 0 {
				t.Errorf("refreshed %q: the stored refresh token went to another provider instance", refreshed)
			}
			uCalls(t, h.flow, map[string]int{oauthtest.MethodRequestDeviceCode: 1})
			dl := h.dl()
			if dl.Status.UserCode != "WDJB-0002" {
				t.Errorf("userCode = %q, want a new code", dl.Status.UserCode)
			}
			uExpectReady(t, dl, metav1.ConditionTrue, ReasonReauthorizationRequired)
			if ev := h.eventsWith(ReasonReauthorizationRequired); len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning ReauthorizationRequired") {
				t.Errorf("ReauthorizationRequired events = %q, want one", h.allEvents())
			}
			if got := string(h.mustSecret(uName).Data[KeyAccessToken]); got != "ACCESS-TOKEN-1" {
				t.Errorf("token Secret access_token = %q: the current token must be served until it expires", got)
			}

			if t.Failed() {
				return
			}
			// The new approval binds the grant to the new instance, which then gets the refreshes.
			h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) { return uToken(2, uLife), nil }
			h.stepTo(dl.Status.NextPollTime.Time)
			h.mustReconcile()
			uExpectReady(t, h.dl(), metav1.ConditionTrue, ReasonAuthorized)
			h.stepTo(h.dl().Status.NextRefreshTime.Time)
			h.mustReconcile()
			if len(refreshed) != 1 || !strings.HasPrefix(refreshed[0], "REFRESH-TOKEN-2 ") {
				t.Errorf("refreshes after the new approval = %q", refreshed)
			}
			h.assertNoSecretsLeaked()
		})
	}

	t.Run("pending code dropped", func(t *testing.T) {
		h := newUHarness(t, withUID)
		h.mustReconcile()
		var polled []string
		h.flow.PollTokenFn = func(_ context.Context, cfg oauth.ClientConfig, dc string) (*oauth.Token, error) {
			polled = append(polled, dc+" to "+cfg.Endpoints.TokenURL)
			return nil, uOAuthErr("authorization_pending")
		}
		h.updateProvider(func(p *authv1alpha1.OAuthProvider) { p.Status.TokenURL = "https://elsewhere.example.com/token" })
		h.stepTo(h.dl().Status.NextPollTime.Time)
		h.mustReconcile()
		if len(polled) != 0 {
			t.Errorf("polled %q: the device code went to another endpoint", polled)
		}
		if dl := h.dl(); dl.Status.UserCode != "WDJB-0002" || string(h.mustSecret(uStateName).Data[keyDeviceCode]) != "DEVICE-CODE-2" {
			t.Errorf("userCode %q: want the old code dropped and a new one", dl.Status.UserCode)
		}
		h.stepTo(h.dl().Status.NextPollTime.Time)
		h.mustReconcile()
		if want := "DEVICE-CODE-2 to https://elsewhere.example.com/token"; len(polled) != 1 || polled[0] != want {
			t.Errorf("polled %q, want [%s]", polled, want)
		}
	})

	t.Run("state of an older version adopts the binding", func(t *testing.T) {
		h, _ := uAuthorized(t, withUID)
		state := h.mustSecret(uStateName)
		delete(state.Data, keyBinding)
		if err := h.raw.Update(h.ctx, state); err != nil {
			t.Fatal(err)
		}
		h.clock.Step(time.Second)
		h.mustReconcile()
		if h.mustSecret(uStateName).Data[keyBinding] == nil || h.dl().Status.NextRefreshTime == nil {
			t.Fatalf("the state Secret did not adopt the provider's binding (events %q)", h.allEvents())
		}
		h.resetCounts()
		h.clock.Step(time.Second)
		h.mustReconcile()
		if w := h.writeCount(); w != 0 {
			t.Errorf("writes after the adoption: %v", h.traceSnapshot())
		}
		h.flow.RefreshFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) { return uToken(2, uLife), nil }
		h.stepTo(h.dl().Status.NextRefreshTime.Time)
		h.mustReconcile()
		uCalls(t, h.flow, map[string]int{oauthtest.MethodRefresh: 1})
		if ev := h.eventsWith(ReasonReauthorizationRequired); len(ev) != 0 {
			t.Errorf("ReauthorizationRequired events = %q", ev)
		}
		uExpectReady(t, h.dl(), metav1.ConditionTrue, ReasonAuthorized)
	})
}
