package controllers

// Tenant safety (issue 9): stored grants go only to the provider instance that issued them, specs
// the API server should have refused stop before anything is written or requested, and a namespace
// a ClusterOAuthProvider stops allowing is not served at all. Harness: devicelogin_unit_test.go.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth/oauthtest"
)

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
func TestUnitTenantProviderBinding(t *testing.T) {
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

// Issue 9 items 4 and 7: a DeviceLogin the API server stored before its rules existed is refused
// with InvalidSpec, before the provider is asked anything and before any Secret is written.
func TestUnitTenantInvalidSpec(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*authv1alpha1.DeviceLogin)
		want   string
	}{
		{"name over 63 characters", func(dl *authv1alpha1.DeviceLogin) { dl.Name = strings.Repeat("a", 64) },
			"is longer than 63 characters"},
		{"secretName of a state Secret", func(dl *authv1alpha1.DeviceLogin) { dl.Spec.SecretName = "other-devicelogin-state" },
			"secretName other-devicelogin-state ends in -devicelogin-state"},
		{"service-account token type", func(dl *authv1alpha1.DeviceLogin) {
			dl.Spec.SecretTemplate = &authv1alpha1.SecretTemplate{Type: string(corev1.SecretTypeServiceAccountToken)}
		}, "secretTemplate.type kubernetes.io/service-account-token is not allowed"},
		{"service-account annotation", func(dl *authv1alpha1.DeviceLogin) {
			dl.Spec.SecretTemplate = &authv1alpha1.SecretTemplate{Annotations: map[string]string{corev1.ServiceAccountNameKey: "default"}}
		}, "secretTemplate.annotations may not set kubernetes.io/service-account.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newUHarness(t, func(s *uSetup) { tt.mutate(s.dl) })
			want := uDeviceLogin()
			tt.mutate(want)
			key := client.ObjectKeyFromObject(want)
			for range 2 {
				if _, err := h.reconcileKey(key); err != nil {
					t.Fatalf("Reconcile: %v", err)
				}
				h.clock.Step(time.Second)
			}
			dl := &authv1alpha1.DeviceLogin{}
			if err := h.raw.Get(h.ctx, key, dl); err != nil {
				t.Fatal(err)
			}
			c := uExpectReady(t, dl, metav1.ConditionFalse, ReasonInvalidSpec)
			if !strings.Contains(c.Message, tt.want) {
				t.Errorf("Ready message %q does not contain %q", c.Message, tt.want)
			}
			uCalls(t, h.flow, nil)
			var secrets corev1.SecretList
			if err := h.raw.List(h.ctx, &secrets, client.InNamespace(uNS)); err != nil {
				t.Fatal(err)
			}
			if len(secrets.Items) != 0 {
				t.Errorf("%d Secret(s) written for an invalid spec", len(secrets.Items))
			}
			if ev := h.eventsWith(ReasonInvalidSpec); len(ev) != 1 {
				t.Errorf("InvalidSpec events = %q, want one", h.allEvents())
			}
		})
	}

	t.Run("type changed after approval", func(t *testing.T) {
		h, _ := uAuthorized(t)
		h.updateDL(func(dl *authv1alpha1.DeviceLogin) {
			dl.Spec.SecretTemplate = &authv1alpha1.SecretTemplate{Type: string(corev1.SecretTypeServiceAccountToken),
				Annotations: map[string]string{corev1.ServiceAccountNameKey: "default"}}
			dl.Generation++
		})
		h.clock.Step(time.Second)
		h.mustReconcile()
		uExpectReady(t, h.dl(), metav1.ConditionFalse, ReasonInvalidSpec)
		if sec := h.mustSecret(uName); sec.Type != corev1.SecretTypeOpaque || string(sec.Data[KeyAccessToken]) != "ACCESS-TOKEN-1" {
			t.Errorf("token Secret type %q: the Secret must stay as it was", sec.Type)
		}
		uCalls(t, h.flow, nil)
	})
}

// reconcileKey reconciles the DeviceLogin key names, collecting its events as reconcile does.
func (h *uHarness) reconcileKey(key types.NamespacedName) (res ctrl.Result, err error) {
	res, err = h.r.Reconcile(h.ctx, ctrl.Request{NamespacedName: key})
	for {
		select {
		case e := <-h.rec.Events:
			h.mu.Lock()
			h.events = append(h.events, e)
			h.mu.Unlock()
			continue
		default:
		}
		return res, err
	}
}

// uClusterProvider is a Ready ClusterOAuthProvider that allows the namespaces given.
func uClusterProvider(revocationURL string, allowed ...string) func(*uSetup) {
	return func(s *uSetup) {
		p := uReadyProvider()
		c := &authv1alpha1.ClusterOAuthProvider{ObjectMeta: metav1.ObjectMeta{Name: "shared-idp", Generation: 1, UID: "cluster-provider-uid"},
			Spec: p.Spec, Status: p.Status}
		c.Spec.AllowedNamespaces = allowed
		c.Status.RevocationURL = revocationURL
		s.objects = append(s.objects, c)
		s.dl.Spec.ProviderRef = authv1alpha1.ProviderReference{Kind: authv1alpha1.ClusterOAuthProviderKind, Name: c.Name}
	}
}

// allowNamespaces sets the ClusterOAuthProvider's allowedNamespaces.
func (h *uHarness) allowNamespaces(ns ...string) {
	h.t.Helper()
	c := &authv1alpha1.ClusterOAuthProvider{}
	if err := h.raw.Get(h.ctx, types.NamespacedName{Name: "shared-idp"}, c); err != nil {
		h.t.Fatal(err)
	}
	c.Spec.AllowedNamespaces = ns
	if err := h.raw.Update(h.ctx, c); err != nil {
		h.t.Fatal(err)
	}
}

// Issue 9 item 9: a namespace that a ClusterOAuthProvider stops allowing is not served at all:
// the tokens are revoked when the provider can, the token Secret and the stored grant are deleted,
// status forgets the grant, and an event says what was done.
func TestUnitTenantNamespaceWithdrawn(t *testing.T) {
	tests := []struct {
		name, url string
		wantDone  []string
		wantRevs  int
	}{
		{name: "with a revocation endpoint", url: uRevocationURL, wantRevs: 2,
			wantDone: []string{"revoked the tokens at the provider", "deleted Secret " + uName, "deleted the stored grant"}},
		{name: "without one", wantDone: []string{"did not revoke the tokens", "has no revocation endpoint", "deleted Secret " + uName}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newUHarness(t, uClusterProvider(tt.url, uNS, "team-b"))
			h.authorize(uToken(1, uLife))
			uExpectReady(t, h.dl(), metav1.ConditionTrue, ReasonAuthorized)
			revoked := h.recordRevocations()
			h.resetCounts()
			h.allowNamespaces("team-b")
			h.clock.Step(time.Second)
			h.mustReconcile()

			if tt.wantRevs > 0 && fmt.Sprint(*revoked) != "[refresh_token REFRESH-TOKEN-1 access_token ACCESS-TOKEN-1]" {
				t.Errorf("revocations = %q", *revoked)
			}
			uCalls(t, h.flow, map[string]int{oauthtest.MethodRevoke: tt.wantRevs})
			if s := h.secret(uName); s != nil {
				t.Errorf("the token Secret is still there: %v", s.Data)
			}
			if s := h.secret(uStateName); s != nil && len(s.Data) != 0 {
				t.Errorf("the state Secret keeps %d key(s)", len(s.Data))
			}
			dl := h.dl()
			st := dl.Status
			if st.TokenExpiresAt != nil || st.NextRefreshTime != nil || st.AuthorizedAt != nil || st.AuthorizedSubject != "" ||
				st.GrantedScopes != nil || st.SecretName != "" || st.UserCode != "" {
				t.Errorf("status keeps the grant: %+v", st)
			}
			uExpectReady(t, dl, metav1.ConditionFalse, ReasonProviderNotReady)
			ev := h.eventsWith(EventNamespaceNotAllowed)
			if len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning NamespaceNotAllowed") {
				t.Fatalf("NamespaceNotAllowed events = %q, want one", h.allEvents())
			}
			for _, w := range tt.wantDone {
				if !strings.Contains(ev[0], w) {
					t.Errorf("event %q does not say %q", ev[0], w)
				}
			}

			h.resetCounts()
			h.clock.Step(time.Minute)
			h.mustReconcile()
			uCalls(t, h.flow, nil)
			if w := h.writeCount(); w != 0 || len(h.eventsWith(EventNamespaceNotAllowed)) != 0 {
				t.Errorf("again: writes %v events %q", h.traceSnapshot(), h.allEvents())
			}

			// Allowed again: a new approval from scratch.
			h.allowNamespaces(uNS)
			h.mustReconcile()
			uCalls(t, h.flow, map[string]int{oauthtest.MethodRequestDeviceCode: 1})
			uExpectReady(t, h.dl(), metav1.ConditionFalse, ReasonAwaitingApproval)
			h.assertNoSecretsLeaked()
		})
	}

	// Issue 10 item 3 too: a pending code of a namespace no longer allowed is dropped at once,
	// without polling, and nothing wakes the login every second.
	t.Run("pending code", func(t *testing.T) {
		h := newUHarness(t, uClusterProvider(uRevocationURL))
		h.mustReconcile()
		h.allowNamespaces("team-b")
		h.stepTo(h.dl().Status.NextPollTime.Time)
		h.resetCounts()
		res := h.mustReconcile()
		uCalls(t, h.flow, nil)
		if res.RequeueAfter != 0 {
			t.Errorf("RequeueAfter = %s for a login its provider does not serve", res.RequeueAfter)
		}
		if h.dl().Status.UserCode != "" || h.mustSecret(uStateName).Data[keyDeviceCode] != nil {
			t.Error("the pending code was kept")
		}
		if ev := h.eventsWith(EventNamespaceNotAllowed); len(ev) != 1 || !strings.Contains(ev[0], "deleted the stored grant") {
			t.Errorf("NamespaceNotAllowed events = %q", h.allEvents())
		}
	})

	t.Run("never served", func(t *testing.T) {
		h := newUHarness(t, uClusterProvider(uRevocationURL, "team-b"))
		h.mustReconcile()
		uCalls(t, h.flow, nil)
		uExpectReady(t, h.dl(), metav1.ConditionFalse, ReasonProviderNotReady)
		if ev := h.eventsWith(EventNamespaceNotAllowed); len(ev) != 0 {
			t.Errorf("NamespaceNotAllowed events with nothing stored: %q", ev)
		}
		if tr := h.traceSnapshot(); len(tr) != 1 || tr[0] != "Patch/status DeviceLogin/"+uName {
			t.Errorf("writes = %v, want the status only", tr)
		}
	})
}
