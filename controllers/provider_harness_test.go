package controllers

import (
	"context"
	"net/http"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
)

// pStart is the fake clock's start for provider tests.
var pStart = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// pHarness is one provider in the fake client, a fake clock and a Discover seam whose answer the
// test sets, around a ProviderReconciler.
type pHarness struct {
	t     *testing.T
	c     client.WithWatch
	clock *clocktesting.FakeClock
	r     *ProviderReconciler
	obj   authv1alpha1.ProviderObject
	// discover answers discovery; nil means the provider is down.
	discover func(issuer string) (oauth.Endpoints, error)
	// clients records the HTTP client each discovery went through.
	clients []*http.Client
}

// newPHarness stores obj (and extra objects) in a fake client; funcs may intercept its calls.
func newPHarness(t *testing.T, obj authv1alpha1.ProviderObject, funcs *interceptor.Funcs, extra ...client.Object) *pHarness {
	t.Helper()
	s := unitScheme()
	if obj.GetGeneration() == 0 {
		obj.SetGeneration(1)
	}
	b := fake.NewClientBuilder().WithScheme(s).
		WithStatusSubresource(&authv1alpha1.OAuthProvider{}, &authv1alpha1.ClusterOAuthProvider{}).
		WithObjects(append(extra, obj)...)
	if funcs != nil {
		b = b.WithInterceptorFuncs(*funcs)
	}
	c := b.Build()
	h := &pHarness{t: t, c: c, clock: clocktesting.NewFakeClock(pStart), obj: obj}
	h.r = &ProviderReconciler{
		Client: c, APIReader: c, Clock: h.clock, ClusterResourceNamespace: "operator-ns", DiscoveryInterval: time.Hour,
		HTTP: &http.Client{}, NamespacedHTTP: &http.Client{},
		Discover: func(_ context.Context, hc *http.Client, issuer string) (oauth.Endpoints, error) {
			h.clients = append(h.clients, hc)
			if h.discover == nil {
				return oauth.Endpoints{}, &oauth.DiscoveryError{Reason: "connection refused"}
			}
			return h.discover(issuer)
		},
		NewObject: func() authv1alpha1.ProviderObject { return obj.DeepCopyObject().(authv1alpha1.ProviderObject) },
	}
	return h
}

// reconcile runs one reconcile and returns its result and error.
func (h *pHarness) reconcile() (ctrl.Result, error) {
	h.t.Helper()
	return h.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: h.obj.GetNamespace(), Name: h.obj.GetName()}})
}

// get reads the provider back.
func (h *pHarness) get() authv1alpha1.ProviderObject {
	h.t.Helper()
	obj := h.obj.DeepCopyObject().(authv1alpha1.ProviderObject)
	if err := h.c.Get(context.Background(), client.ObjectKeyFromObject(h.obj), obj); err != nil {
		h.t.Fatal(err)
	}
	return obj
}

// condition returns the provider's condition of type t (zero when absent).
func (h *pHarness) condition(t string) metav1.Condition {
	h.t.Helper()
	if c := meta.FindStatusCondition(h.get().ProviderStatus().Conditions, t); c != nil {
		return *c
	}
	return metav1.Condition{}
}

// bumpGeneration changes the spec as the API server would: a new generation.
func (h *pHarness) bumpGeneration(mutate func(*authv1alpha1.OAuthProviderSpec)) {
	h.t.Helper()
	obj := h.get()
	mutate(obj.ProviderSpec())
	obj.SetGeneration(obj.GetGeneration() + 1)
	if err := h.c.Update(context.Background(), obj); err != nil {
		h.t.Fatal(err)
	}
}

// clusterProvider is a ClusterOAuthProvider named p with spec.
func clusterProvider(spec authv1alpha1.OAuthProviderSpec) *authv1alpha1.ClusterOAuthProvider {
	return &authv1alpha1.ClusterOAuthProvider{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: spec}
}

// namespacedProvider is an OAuthProvider team-a/p with spec.
func namespacedProvider(spec authv1alpha1.OAuthProviderSpec) *authv1alpha1.OAuthProvider {
	return &authv1alpha1.OAuthProvider{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "team-a"}, Spec: spec}
}
