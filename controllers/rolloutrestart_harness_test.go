package controllers

// The harness of the RolloutRestartReconciler unit tests (rolloutrestart_controller_test.go).

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/metrics"
)

const rrSecret = "ci-bot-token"

// rrHarness is a DeviceLogin with rollout-restart targets, its token Secret, the workloads, and
// a RolloutRestartReconciler on a fake client.
type rrHarness struct {
	t     *testing.T
	ctx   context.Context
	raw   client.WithWatch
	clock *clocktesting.FakeClock
	rec   *events.FakeRecorder
	r     *RolloutRestartReconciler

	mu      sync.Mutex
	patches []string // "Deployment/web" per workload patch sent
	// failPatch, when set, may fail a workload patch.
	failPatch func(obj client.Object) error
	// staleLogin, when set, is served instead of the stored DeviceLogin: a cache that lags.
	staleLogin *authv1alpha1.DeviceLogin
}

func rrLogin(targets ...authv1alpha1.RolloutRestartTarget) *authv1alpha1.DeviceLogin {
	return &authv1alpha1.DeviceLogin{
		ObjectMeta: metav1.ObjectMeta{Name: uName, Namespace: uNS, UID: uUID, Generation: 1},
		Spec: authv1alpha1.DeviceLoginSpec{
			ProviderRef:               authv1alpha1.ProviderReference{Name: uIDP},
			SecretName:                rrSecret,
			RolloutRestartTargets:     targets,
			RolloutRestartMinInterval: &metav1.Duration{Duration: 5 * time.Minute},
		},
		Status: authv1alpha1.DeviceLoginStatus{SecretName: rrSecret},
	}
}

func rrTokenSecret(token string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: rrSecret, Namespace: uNS,
			Labels: map[string]string{authv1alpha1.DeviceLoginLabel: uName},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: authv1alpha1.GroupVersion.String(), Kind: "DeviceLogin",
				Name: uName, UID: uUID, Controller: ptr.To(true)}}},
		Data: map[string][]byte{"access_token": []byte(token), "token_type": []byte("Bearer")},
	}
}

func rrWorkloads() []client.Object {
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: uNS} }
	return []client.Object{
		&appsv1.Deployment{ObjectMeta: meta("web")},
		&appsv1.StatefulSet{ObjectMeta: meta("db")},
		&appsv1.DaemonSet{ObjectMeta: meta("agent")},
	}
}

var rrAllTargets = []authv1alpha1.RolloutRestartTarget{
	{Kind: authv1alpha1.RolloutRestartDeployment, Name: "web"},
	{Kind: authv1alpha1.RolloutRestartStatefulSet, Name: "db"},
	{Kind: authv1alpha1.RolloutRestartDaemonSet, Name: "agent"},
}

func newRRHarness(t *testing.T, dl *authv1alpha1.DeviceLogin, objs ...client.Object) *rrHarness {
	t.Helper()
	h := &rrHarness{t: t, ctx: context.Background(), clock: clocktesting.NewFakeClock(uStart),
		rec: events.NewFakeRecorder(100)}
	h.raw = fake.NewClientBuilder().WithScheme(unitScheme()).
		WithStatusSubresource(&authv1alpha1.DeviceLogin{}).
		WithObjects(append([]client.Object{dl, rrTokenSecret("token-1")}, objs...)...).Build()
	c := interceptor.NewClient(h.raw, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			h.mu.Lock()
			stale := h.staleLogin
			h.mu.Unlock()
			if out, ok := obj.(*authv1alpha1.DeviceLogin); ok && stale != nil {
				stale.DeepCopyInto(out)
				return nil
			}
			return c.Get(ctx, key, obj, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			h.mu.Lock()
			h.patches = append(h.patches, typeName(obj)+"/"+obj.GetName())
			fail := h.failPatch
			h.mu.Unlock()
			if fail != nil {
				if err := fail(obj); err != nil {
					return err
				}
			}
			return c.Patch(ctx, obj, patch, opts...)
		},
	})
	h.r = &RolloutRestartReconciler{Client: c, Clock: h.clock, Recorder: h.rec}
	return h
}

func typeName(obj client.Object) string {
	switch obj.(type) {
	case *appsv1.Deployment:
		return "Deployment"
	case *appsv1.StatefulSet:
		return "StatefulSet"
	case *appsv1.DaemonSet:
		return "DaemonSet"
	}
	return "Other"
}

func (h *rrHarness) reconcile() ctrl.Result {
	h.t.Helper()
	res, err := h.r.Reconcile(h.ctx, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: uNS, Name: uName}})
	if err != nil {
		h.t.Fatalf("Reconcile: %v", err)
	}
	return res
}

func (h *rrHarness) login() *authv1alpha1.DeviceLogin {
	h.t.Helper()
	dl := &authv1alpha1.DeviceLogin{}
	if err := h.raw.Get(h.ctx, types.NamespacedName{Namespace: uNS, Name: uName}, dl); err != nil {
		h.t.Fatal(err)
	}
	return dl
}

// setToken changes the token Secret's data, as a refresh does.
func (h *rrHarness) setToken(token string) {
	h.t.Helper()
	s := &corev1.Secret{}
	if err := h.raw.Get(h.ctx, types.NamespacedName{Namespace: uNS, Name: rrSecret}, s); err != nil {
		h.t.Fatal(err)
	}
	s.Data = rrTokenSecret(token).Data
	if err := h.raw.Update(h.ctx, s); err != nil {
		h.t.Fatal(err)
	}
}

// restartedAt is the restartedAt annotation of a workload's pod template.
func (h *rrHarness) restartedAt(obj client.Object) string {
	h.t.Helper()
	if err := h.raw.Get(h.ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		h.t.Fatal(err)
	}
	var tmpl corev1.PodTemplateSpec
	switch w := obj.(type) {
	case *appsv1.Deployment:
		tmpl = w.Spec.Template
	case *appsv1.StatefulSet:
		tmpl = w.Spec.Template
	case *appsv1.DaemonSet:
		tmpl = w.Spec.Template
	}
	return tmpl.Annotations[authv1alpha1.RestartedAtAnnotation]
}

func (h *rrHarness) events() []string {
	var out []string
	for {
		select {
		case e := <-h.rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func (h *rrHarness) patchCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.patches)
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// restartCount reads devicelogin_rollout_restarts_total{namespace,kind} through a registry.
func restartCount(t *testing.T, namespace, kind string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := metrics.Register(reg, fake.NewClientBuilder().WithScheme(unitScheme()).Build()); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "devicelogin_rollout_restarts_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["namespace"] == namespace && labels["kind"] == kind {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
