package controllers

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
)

func BenchmarkRenderTokenSecret(b *testing.B) {
	dl := &authv1alpha1.DeviceLogin{ObjectMeta: metav1.ObjectMeta{Name: "bench"}, Spec: authv1alpha1.DeviceLoginSpec{
		SecretTemplate: &authv1alpha1.SecretTemplate{Data: map[string]string{
			"authorization":     "Bearer {{ .AccessToken }}",
			".dockerconfigjson": `{"auths":{"ghcr.io":{"auth":"{{ b64enc (concat "x:" .AccessToken) }}"}}}`,
		}},
	}}
	tmpls, err := parseTemplates(dl)
	if err != nil {
		b.Fatal(err)
	}
	st := &loginState{AccessToken: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln", TokenType: "Bearer", Scope: "openid email",
		Expiry: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := renderTokenSecret(dl, st, tmpls); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReconcileSteadyState is the cost of one reconcile of an authorized DeviceLogin with
// nothing due (the common case, on every resync or Secret event): no provider call, no write.
func BenchmarkReconcileSteadyState(b *testing.B) {
	h := newOutageHarness(b)
	h.flow.RequestDeviceCodeFn = func(context.Context, oauth.ClientConfig, oauth.DeviceRequest) (*oauth.DeviceAuthorization, error) {
		return &oauth.DeviceAuthorization{DeviceCode: "dc", UserCode: "ABCD-EFGH", VerificationURI: "https://idp.test/device",
			ExpiresIn: 30 * time.Minute, Interval: 5 * time.Second}, nil
	}
	h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
		return &oauth.Token{AccessToken: "at-1", TokenType: "Bearer", RefreshToken: "rt-1", ExpiresIn: 24 * time.Hour}, nil
	}
	h.flow.SubjectFn = func(context.Context, oauth.ClientConfig, *oauth.Token) (string, error) { return "alice", nil }
	h.clock.Step(h.reconcile())
	h.reconcile() // authorized; the next refresh is hours away
	before := h.flow.TotalCalls()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h.reconcile()
	}
	b.StopTimer()
	if h.flow.TotalCalls() != before {
		b.Fatalf("steady-state reconciles called the provider %d times", h.flow.TotalCalls()-before)
	}
}
