package controllers

// Deletion with revokeOnDelete (issue 10 item 12): the grant is held by a finalizer on the state
// Secret too, so that revocation is tried even when the whole namespace goes; the events say what
// really happened, never a revocation that did not. Harness: harness_unit_test.go.

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth/oauthtest"
)

const uRevocationURL = "https://idp.example.com/revoke"

// uRevokeOnDelete sets revokeOnDelete and, with revocationURL, gives the provider a revocation
// endpoint.
func uRevokeOnDelete(revocationURL string) func(*uSetup) {
	return func(s *uSetup) {
		s.dl.Spec.RevokeOnDelete = true
		s.provider.Status.RevocationURL = revocationURL
	}
}

// deleteDL deletes the DeviceLogin as kubectl would; its finalizer keeps it until the controller
// is done.
func (h *uHarness) deleteDL() {
	h.t.Helper()
	if err := h.deleteSeen(h.ctx, h.dl()); err != nil {
		h.t.Fatalf("deleting the DeviceLogin: %v", err)
	}
	if h.dl().DeletionTimestamp.IsZero() {
		h.t.Fatal("the DeviceLogin went at once: no finalizer held it")
	}
}

// recordRevocations records every revocation as "hint token".
func (h *uHarness) recordRevocations() *[]string {
	var got []string
	h.flow.RevokeFn = func(_ context.Context, cfg oauth.ClientConfig, token, hint string) error {
		if cfg.Endpoints.RevocationURL != uRevocationURL {
			h.t.Errorf("revoked at %q", cfg.Endpoints.RevocationURL)
		}
		got = append(got, hint+" "+token)
		return nil
	}
	return &got
}

// expectGone checks that the DeviceLogin and the state Secret are gone, or at least hold none of
// the operator's finalizers.
func (h *uHarness) expectFinalizersGone() {
	h.t.Helper()
	dl := &authv1alpha1.DeviceLogin{}
	if err := h.raw.Get(h.ctx, types.NamespacedName{Namespace: uNS, Name: uName}, dl); !apierrors.IsNotFound(err) {
		h.t.Errorf("the DeviceLogin is still there (finalizers %v, err %v)", dl.Finalizers, err)
	}
	if s := h.secret(uStateName); s != nil && controllerutil.ContainsFinalizer(s, RevokeFinalizer) {
		h.t.Errorf("the state Secret keeps the finalizer %s", RevokeFinalizer)
	}
}

// With revokeOnDelete and a revocation endpoint, deletion revokes the refresh and the access token,
// also when the whole namespace goes and the state Secret is deleted first; then the finalizers go.
func TestUnitDeleteRevokes(t *testing.T) {
	t.Run("DeviceLogin deleted", func(t *testing.T) {
		h, _ := uAuthorized(t, uRevokeOnDelete(uRevocationURL))
		if !controllerutil.ContainsFinalizer(h.dl(), RevokeFinalizer) || !controllerutil.ContainsFinalizer(h.mustSecret(uStateName), RevokeFinalizer) {
			t.Fatalf("finalizers: DeviceLogin %v, state Secret %v; want %s on both", h.dl().Finalizers, h.mustSecret(uStateName).Finalizers, RevokeFinalizer)
		}
		revoked := h.recordRevocations()
		h.deleteDL()
		h.mustReconcile()
		if want := []string{"refresh_token REFRESH-TOKEN-1", "access_token ACCESS-TOKEN-1"}; !slices.Equal(*revoked, want) {
			t.Errorf("revocations = %q, want %q", *revoked, want)
		}
		if ev := h.eventsWith(EventRevoked); len(ev) != 1 || !strings.HasPrefix(ev[0], "Normal Revoked") {
			t.Errorf("events = %q, want one Revoked", h.allEvents())
		}
		if ev := h.eventsWith(EventRevocationSkipped); len(ev) != 0 {
			t.Errorf("RevocationSkipped events = %q", ev)
		}
		h.expectFinalizersGone()
		if ev := strings.Join(h.allEvents(), "\n"); strings.Contains(ev, "TOKEN-") {
			t.Errorf("events contain a token: %s", ev)
		}
	})

	t.Run("namespace deleted: the state Secret goes first", func(t *testing.T) {
		h, _ := uAuthorized(t, uRevokeOnDelete(uRevocationURL))
		revoked := h.recordRevocations()
		if err := h.deleteSeen(h.ctx, h.mustSecret(uStateName)); err != nil {
			t.Fatal(err)
		}
		h.deleteDL()
		h.mustReconcile()
		if want := []string{"refresh_token REFRESH-TOKEN-1", "access_token ACCESS-TOKEN-1"}; !slices.Equal(*revoked, want) {
			t.Errorf("revocations = %q, want %q: the grant was gone before revocation was tried", *revoked, want)
		}
		if ev := h.eventsWith(EventRevoked); len(ev) != 1 {
			t.Errorf("events = %q, want one Revoked", h.allEvents())
		}
		h.expectFinalizersGone()
		if s := h.secret(uStateName); s != nil {
			t.Errorf("the state Secret outlived its finalizer: %v", s.Finalizers)
		}
	})
}

// Nothing was revoked: the event says why, and neither an event nor a log line says "revoked".
func TestUnitDeleteSaysWhyNothingWasRevoked(t *testing.T) {
	tests := []struct {
		name    string
		approve bool
		url     string
		want    string
	}{
		{name: "no tokens stored", url: uRevocationURL, want: "Did not revoke anything: no tokens were stored"},
		{name: "no revocation endpoint", approve: true, want: "has no revocation endpoint; the tokens stay valid until they expire"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newUHarness(t, uRevokeOnDelete(tt.url))
			if tt.approve {
				h.authorize(uToken(1, uLife))
			} else {
				h.mustReconcile() // a pending code, no tokens
			}
			if !controllerutil.ContainsFinalizer(h.mustSecret(uStateName), RevokeFinalizer) {
				t.Errorf("state Secret finalizers %v, want %s", h.mustSecret(uStateName).Finalizers, RevokeFinalizer)
			}
			h.resetCounts()
			h.deleteDL()
			h.mustReconcile()
			uCalls(t, h.flow, nil)
			if ev := h.eventsWith(EventRevocationSkipped); len(ev) != 1 || !strings.Contains(ev[0], tt.want) {
				t.Errorf("events = %q, want one RevocationSkipped with %q", h.allEvents(), tt.want)
			}
			if ev := h.eventsWith(EventRevoked); len(ev) != 0 {
				t.Errorf("Revoked events although nothing was revoked: %q", ev)
			}
			h.mu.Lock()
			logs := h.logs.String()
			h.mu.Unlock()
			if strings.Contains(logs, "Tokens revoked") {
				t.Errorf("the log claims a revocation that did not happen:\n%s", logs)
			}
			h.expectFinalizersGone()
		})
	}
}

// Without revokeOnDelete nothing holds the deletion and nothing is revoked.
func TestUnitDeleteWithoutRevokeOnDelete(t *testing.T) {
	h, _ := uAuthorized(t, func(s *uSetup) { s.provider.Status.RevocationURL = uRevocationURL })
	if f := h.mustSecret(uStateName).Finalizers; len(f) != 0 {
		t.Errorf("state Secret finalizers %v without revokeOnDelete", f)
	}
	if f := h.dl().Finalizers; len(f) != 0 {
		t.Errorf("DeviceLogin finalizers %v without revokeOnDelete", f)
	}
	if err := h.deleteSeen(h.ctx, h.dl()); err != nil {
		t.Fatal(err)
	}
	h.mustReconcile()
	uCalls(t, h.flow, map[string]int{oauthtest.MethodRevoke: 0})
	if ev := h.allEvents(); len(ev) != 0 {
		t.Errorf("events %q", ev)
	}
}

// staleCache serves the objects it holds instead of the client's: a cache that has not yet seen
// the controller's last writes.
type staleCache struct {
	client.Client
	objs []client.Object
}

func (c staleCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	for _, o := range c.objs {
		if client.ObjectKeyFromObject(o) != key || reflect.TypeOf(o) != reflect.TypeOf(obj) {
			continue
		}
		switch want := obj.(type) {
		case *authv1alpha1.DeviceLogin:
			o.(*authv1alpha1.DeviceLogin).DeepCopyInto(want)
		case *corev1.Secret:
			o.(*corev1.Secret).DeepCopyInto(want)
		}
		return nil
	}
	return c.Client.Get(ctx, key, obj, opts...)
}

// A reconcile from a cache that still shows the DeviceLogin with its finalizer, after the
// controller removed it, does not revoke (and announce it) a second time.
func TestUnitDeleteRevokesOnceFromAStaleCache(t *testing.T) {
	h, _ := uAuthorized(t, uRevokeOnDelete(uRevocationURL))
	revoked := h.recordRevocations()
	h.deleteDL()
	stale := []client.Object{h.dl(), h.mustSecret(uStateName)}
	h.mustReconcile()
	h.expectFinalizersGone()
	if len(*revoked) != 2 {
		t.Fatalf("revocations = %q, want the refresh and the access token", *revoked)
	}

	h.r.Client = staleCache{Client: h.r.Client, objs: stale}
	h.mustReconcile()
	if len(*revoked) != 2 {
		t.Errorf("revocations = %q: revoked again from a stale cache", *revoked)
	}
	if ev := h.eventsWith(EventRevoked); len(ev) != 1 {
		t.Errorf("events = %q, want one Revoked", h.allEvents())
	}
}
