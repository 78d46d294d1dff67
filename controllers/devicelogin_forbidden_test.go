package controllers

// Tests of the forbidden step (devicelogin_forbidden.go): a namespace that a ClusterOAuthProvider
// stops allowing is not served at all. Harness: harness_unit_test.go.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth/oauthtest"
)

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
func TestUnitForbiddenNamespaceWithdrawn(t *testing.T) {
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
