package controllers

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

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
	h := newUHarness(b)
	h.ctx = log.IntoContext(context.Background(), logr.Discard()) // measure the reconcile, not the harness' log capture
	h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
		return uToken(1, 24*time.Hour), nil
	}
	h.clock.Step(h.mustReconcile().RequeueAfter)
	h.mustReconcile() // authorized; the next refresh is hours away
	before := h.flow.TotalCalls()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h.mustReconcile()
	}
	b.StopTimer()
	if h.flow.TotalCalls() != before {
		b.Fatalf("steady-state reconciles called the provider %d times", h.flow.TotalCalls()-before)
	}
}
