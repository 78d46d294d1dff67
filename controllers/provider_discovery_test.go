package controllers

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
)

var pDiscovered = oauth.Endpoints{
	Issuer: "https://idp.example.com", DeviceAuthorizationURL: "https://idp.example.com/device", TokenURL: "https://idp.example.com/token",
	UserinfoURL: "https://idp.example.com/userinfo", JWKSURL: "https://idp.example.com/keys",
}

// pDiscoveredOK makes discovery succeed with pDiscovered.
func pDiscoveredOK(string) (oauth.Endpoints, error) { return pDiscovered, nil }

// TestProviderRediscoveryFailureKeepsServing: a failed re-discovery keeps Ready True with the
// last good endpoints, shows the failure in the Discovered condition and retries with a growing
// delay; success clears it; only DiscoveryStaleAfter without a success makes the provider not
// Ready.
func TestProviderRediscoveryFailureKeepsServing(t *testing.T) {
	h := newPHarness(t, clusterProvider(authv1alpha1.OAuthProviderSpec{IssuerURL: "https://idp.example.com", ClientID: "c"}), nil)
	h.discover = pDiscoveredOK
	res, err := h.reconcile()
	if err != nil || res.RequeueAfter != time.Hour {
		t.Fatalf("first reconcile: %+v, %v; want a requeue after the discovery interval", res, err)
	}
	if c := h.condition(ConditionDiscovered); c.Status != metav1.ConditionTrue || c.Reason != ReasonDiscoverySucceeded {
		t.Fatalf("Discovered = %+v; want True", c)
	}
	good := *h.get().ProviderStatus()

	// The hourly re-discovery fails: nothing a DeviceLogin reads changes.
	h.discover = nil
	h.clock.Step(time.Hour)
	var delays []time.Duration
	for range 6 {
		res, err := h.reconcile()
		if err != nil {
			t.Fatalf("reconcile while serving the last good endpoints: %v", err)
		}
		delays = append(delays, res.RequeueAfter)
		h.clock.Step(res.RequeueAfter)
	}
	st := h.get().ProviderStatus()
	ready := h.condition(ConditionReady)
	if ready.Status != metav1.ConditionTrue || ready.Reason != ReasonEndpointsResolved || ready.Message != meta.FindStatusCondition(good.Conditions, ConditionReady).Message {
		t.Errorf("Ready = %+v; want True and unchanged", ready)
	}
	if st.DeviceAuthorizationURL != good.DeviceAuthorizationURL || st.TokenURL != good.TokenURL || st.Issuer != good.Issuer ||
		st.UserinfoURL != good.UserinfoURL || st.JWKSURL != good.JWKSURL || !st.LastDiscoveryTime.Equal(good.LastDiscoveryTime) {
		t.Errorf("status changed while serving the last good endpoints:\n got %+v\nwant %+v", st, good)
	}
	disc := h.condition(ConditionDiscovered)
	if disc.Status != metav1.ConditionFalse || disc.Reason != ReasonDiscoveryFailed || !strings.Contains(disc.Message, "connection refused") ||
		!strings.Contains(disc.Message, "serving the endpoints discovered at 2026-11-28T12:00:00Z until 2026-11-29T12:00:00Z") {
		t.Errorf("Discovered = %+v; want False DiscoveryFailed naming the failure and until when the old endpoints serve", disc)
	}
	want := []time.Duration{30 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute}
	if !slices.Equal(delays, want) {
		t.Errorf("retry delays %v; want %v", delays, want)
	}

	// Discovery comes back: Discovered True, endpoints refreshed.
	h.discover = pDiscoveredOK
	if res, err := h.reconcile(); err != nil || res.RequeueAfter != time.Hour {
		t.Fatalf("reconcile after recovery: %+v, %v", res, err)
	}
	if c := h.condition(ConditionDiscovered); c.Status != metav1.ConditionTrue {
		t.Fatalf("Discovered = %+v after recovery; want True", c)
	}
	recovered := h.clock.Now()

	// A persistent failure: Ready stays True until DiscoveryStaleAfter has passed since the last
	// success, and the retries land on that moment rather than after it.
	h.discover = nil
	for h.clock.Now().Before(recovered.Add(DiscoveryStaleAfter)) {
		if h.condition(ConditionReady).Status != metav1.ConditionTrue {
			t.Fatalf("Ready went False at %s, %s after the last success", h.clock.Now(), h.clock.Since(recovered))
		}
		res, err := h.reconcile()
		if err != nil || res.RequeueAfter <= 0 || res.RequeueAfter > maxDiscoveryRetry {
			t.Fatalf("reconcile at %s: %+v, %v", h.clock.Now(), res, err)
		}
		h.clock.Step(res.RequeueAfter)
	}
	if got := h.clock.Since(recovered); got != DiscoveryStaleAfter {
		t.Errorf("the last retry ran %s after the last success; want exactly %s", got, DiscoveryStaleAfter)
	}
	_, err = h.reconcile()
	if err == nil || errors.Is(err, reconcile.TerminalError(nil)) {
		t.Errorf("reconcile after %s of failures returned %v; want an error to back off on", DiscoveryStaleAfter, err)
	}
	ready = h.condition(ConditionReady)
	if ready.Status != metav1.ConditionFalse || ready.Reason != ReasonDiscoveryFailed || !strings.Contains(ready.Message, "no successful discovery since") {
		t.Errorf("Ready = %+v after %s of failures; want False DiscoveryFailed", ready, DiscoveryStaleAfter)
	}
}

// TestProviderFirstDiscoveryFailureIsNotReady: without endpoints discovered for the current
// generation, a failed discovery makes the provider not Ready at once, and is retried.
func TestProviderFirstDiscoveryFailureIsNotReady(t *testing.T) {
	h := newPHarness(t, clusterProvider(authv1alpha1.OAuthProviderSpec{IssuerURL: "https://idp.example.com", ClientID: "c"}), nil)
	if _, err := h.reconcile(); err == nil || errors.Is(err, reconcile.TerminalError(nil)) {
		t.Fatalf("reconcile = %v; want a retryable error", err)
	}
	if c := h.condition(ConditionReady); c.Status != metav1.ConditionFalse || c.Reason != ReasonDiscoveryFailed {
		t.Errorf("Ready = %+v; want False DiscoveryFailed", c)
	}
	if c := h.condition(ConditionDiscovered); c.Status != metav1.ConditionFalse || c.Reason != ReasonDiscoveryFailed {
		t.Errorf("Discovered = %+v; want False DiscoveryFailed", c)
	}

	// Endpoints discovered for an older spec never stand in for the new one.
	h.discover = pDiscoveredOK
	if _, err := h.reconcile(); err != nil {
		t.Fatal(err)
	}
	h.bumpGeneration(func(s *authv1alpha1.OAuthProviderSpec) { s.IssuerURL = "https://other.example.com" })
	h.discover = nil
	if _, err := h.reconcile(); err == nil {
		t.Fatal("reconcile after a spec change with discovery down succeeded")
	}
	if c := h.condition(ConditionReady); c.Status != metav1.ConditionFalse {
		t.Errorf("Ready = %+v after a spec change with discovery down; want False", c)
	}
}

// TestProviderPresetFallbackKeepsDiscoveredIssuer: a preset that discovers (GitLab) keeps the
// discovered issuer, userinfo and keys while re-discovery fails, instead of falling back to the
// preset's endpoints, which would change what DeviceLogins bind their grants to.
func TestProviderPresetFallbackKeepsDiscoveredIssuer(t *testing.T) {
	h := newPHarness(t, clusterProvider(authv1alpha1.OAuthProviderSpec{Preset: authv1alpha1.PresetGitLab, ClientID: "c"}), nil)
	h.discover = func(string) (oauth.Endpoints, error) {
		return oauth.Endpoints{Issuer: "https://gitlab.com", JWKSURL: "https://gitlab.com/oauth/discovery/keys", UserinfoURL: "https://gitlab.com/oauth/userinfo"}, nil
	}
	if _, err := h.reconcile(); err != nil {
		t.Fatal(err)
	}
	h.discover = nil
	h.clock.Step(time.Hour)
	res, err := h.reconcile()
	if err != nil || res.RequeueAfter != minDiscoveryRetry {
		t.Fatalf("reconcile with discovery down: %+v, %v; want a retry after %s", res, err, minDiscoveryRetry)
	}
	st := h.get().ProviderStatus()
	if st.Issuer != "https://gitlab.com" || st.JWKSURL == "" || st.UserinfoURL == "" {
		t.Errorf("status %+v lost what discovery gave", st)
	}
	if c := h.condition(ConditionDiscovered); c.Status != metav1.ConditionFalse {
		t.Errorf("Discovered = %+v; want False", c)
	}
}

// TestProviderStaleEndpointsCheckedAgain: the last good endpoints are checked against today's
// rules before they stand in: a manager restarted without --allow-private-namespaced-providers
// does not keep serving a namespaced provider's private endpoints.
func TestProviderStaleEndpointsCheckedAgain(t *testing.T) {
	h := newPHarness(t, namespacedProvider(authv1alpha1.OAuthProviderSpec{IssuerURL: "https://idp.example.com", ClientID: "c"}), nil)
	h.r.AllowPrivateNamespacedProviders = true
	h.discover = func(string) (oauth.Endpoints, error) {
		e := pDiscovered
		e.TokenURL = "https://10.0.0.7/token"
		return e, nil
	}
	if _, err := h.reconcile(); err != nil {
		t.Fatal(err)
	}
	h.r.AllowPrivateNamespacedProviders = false
	h.discover = nil
	h.clock.Step(time.Hour)
	if _, err := h.reconcile(); err == nil {
		t.Fatal("reconcile succeeded")
	}
	if c := h.condition(ConditionReady); c.Status != metav1.ConditionFalse {
		t.Errorf("Ready = %+v; want False", c)
	}
}
