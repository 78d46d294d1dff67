package controllers

// Unit tests of the RolloutRestartReconciler: fake client, fake clock, fake recorder. Named
// TestUnit* so that `go test ./controllers/ -run 'Test[^C]'` runs them without an API server.

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/event"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/metrics"
	"github.com/devicelogin-dev/devicelogin-operator/internal/secrethash"
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

func rrScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(authv1alpha1.AddToScheme(s))
	return s
}

func rrLogin(targets ...authv1alpha1.RolloutRestartTarget) *authv1alpha1.DeviceLogin {
	return &authv1alpha1.DeviceLogin{
		ObjectMeta: metav1.ObjectMeta{Name: uName, Namespace: uNS, UID: uUID, Generation: 1},
		Spec: authv1alpha1.DeviceLoginSpec{
			ProviderRef:               authv1alpha1.ProviderReference{Name: uIdP},
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
	h.raw = fake.NewClientBuilder().WithScheme(rrScheme()).
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
	if err := metrics.Register(reg, fake.NewClientBuilder().WithScheme(rrScheme()).Build()); err != nil {
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

func TestUnitRolloutFirstHashRecordedWithoutRestart(t *testing.T) {
	h := newRRHarness(t, rrLogin(rrAllTargets...), rrWorkloads()...)
	if res := h.reconcile(); res.RequeueAfter != 0 {
		t.Fatalf("requeue %v", res)
	}
	st := h.login().Status
	if want := secrethash.DataHash(rrTokenSecret("token-1").Data); st.RolloutRestartedDataHash != want {
		t.Fatalf("rolloutRestartedDataHash %q, want %q", st.RolloutRestartedDataHash, want)
	}
	if st.LastRolloutRestartTime != nil {
		t.Fatalf("lastRolloutRestartTime %v: the first hash restarts nothing", st.LastRolloutRestartTime)
	}
	if n := h.patchCount(); n != 0 {
		t.Fatalf("%d workload patches", n)
	}
	if ev := h.events(); len(ev) != 0 {
		t.Fatalf("events %v", ev)
	}
}

func TestUnitRolloutRestartsEachTargetOnChange(t *testing.T) {
	h := newRRHarness(t, rrLogin(rrAllTargets...), rrWorkloads()...)
	h.reconcile()
	before := restartCount(t, uNS, "Deployment")
	h.clock.Step(time.Hour)
	h.setToken("token-2")
	h.reconcile()

	now := h.clock.Now()
	for _, w := range rrWorkloads() {
		if got := h.restartedAt(w); got != rfc3339(now) {
			t.Errorf("%s %s: restartedAt %q, want %q", typeName(w), w.GetName(), got, rfc3339(now))
		}
	}
	st := h.login().Status
	if want := secrethash.DataHash(rrTokenSecret("token-2").Data); st.RolloutRestartedDataHash != want {
		t.Fatalf("rolloutRestartedDataHash %q, want the new hash %q", st.RolloutRestartedDataHash, want)
	}
	if st.LastRolloutRestartTime == nil || !st.LastRolloutRestartTime.Equal(&metav1.Time{Time: now.Truncate(time.Second)}) {
		t.Fatalf("lastRolloutRestartTime %v, want %v", st.LastRolloutRestartTime, now)
	}
	ev := h.events()
	if len(ev) != 1 || !strings.HasPrefix(ev[0], "Normal RolloutRestarted Restarted Deployment/web, StatefulSet/db, DaemonSet/agent") ||
		!strings.Contains(ev[0], rrSecret) {
		t.Fatalf("events %q", ev)
	}
	if got := restartCount(t, uNS, "Deployment") - before; got != 1 {
		t.Fatalf("devicelogin_rollout_restarts_total{kind=Deployment} grew by %v, want 1", got)
	}

	// Nothing new: nothing restarted again.
	h.clock.Step(time.Hour)
	patches := h.patchCount()
	h.reconcile()
	if h.patchCount() != patches || len(h.events()) != 0 {
		t.Fatal("a reconcile without a data change restarted again")
	}
}

func TestUnitRolloutDebounce(t *testing.T) {
	h := newRRHarness(t, rrLogin(rrAllTargets[0]), rrWorkloads()...)
	web := rrWorkloads()[0]
	h.reconcile()
	h.setToken("token-2")
	h.reconcile()
	first := h.clock.Now()
	if h.restartedAt(web) != rfc3339(first) {
		t.Fatal("no restart on the first change")
	}
	h.events()

	// The window starts at the restart time as recorded, to the second.
	windowEnd := first.Truncate(time.Second).Add(5 * time.Minute)
	h.clock.Step(time.Minute)
	h.setToken("token-3")
	res := h.reconcile()
	if want := windowEnd.Sub(h.clock.Now()); res.RequeueAfter != want || want < 3*time.Minute {
		t.Fatalf("within the interval: requeue after %v, want %v (the end of the 5m window)", res.RequeueAfter, want)
	}
	if h.restartedAt(web) != rfc3339(first) || len(h.events()) != 0 {
		t.Fatal("restarted again within the minimum interval")
	}
	h.clock.Step(2 * time.Minute)
	h.setToken("token-4") // a further change inside the window restarts nothing either
	if res := h.reconcile(); res.RequeueAfter != windowEnd.Sub(h.clock.Now()) {
		t.Fatalf("requeue after %v, want %v", res.RequeueAfter, windowEnd.Sub(h.clock.Now()))
	}

	h.clock.Step(2 * time.Minute)
	h.reconcile()
	if got := h.restartedAt(web); got != rfc3339(h.clock.Now()) {
		t.Fatalf("at the end of the window: restartedAt %q, want %q", got, rfc3339(h.clock.Now()))
	}
	if st := h.login().Status; st.RolloutRestartedDataHash != secrethash.DataHash(rrTokenSecret("token-4").Data) {
		t.Fatal("the restart at the end of the window is not recorded for the newest data")
	}
}

func TestUnitRolloutMissingOrForbiddenTarget(t *testing.T) {
	targets := []authv1alpha1.RolloutRestartTarget{
		{Kind: authv1alpha1.RolloutRestartDeployment, Name: "gone"},
		{Kind: authv1alpha1.RolloutRestartDeployment, Name: "web"},
		{Kind: authv1alpha1.RolloutRestartStatefulSet, Name: "db"},
	}
	h := newRRHarness(t, rrLogin(targets...), rrWorkloads()...)
	h.failPatch = func(obj client.Object) error {
		if obj.GetName() == "db" {
			return apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "statefulsets"}, "db", errors.New("denied"))
		}
		return nil
	}
	h.reconcile()
	h.setToken("token-2")
	h.reconcile()

	if h.restartedAt(rrWorkloads()[0]) != rfc3339(h.clock.Now()) {
		t.Fatal("the existing target was not restarted")
	}
	ev := strings.Join(h.events(), "\n")
	for _, want := range []string{
		"Warning RolloutRestartFailed Deployment gone not found in namespace team-a",
		"Warning RolloutRestartFailed StatefulSet db not restarted: Forbidden",
		"Normal RolloutRestarted Restarted Deployment/web:",
	} {
		if !strings.Contains(ev, want) {
			t.Errorf("no event %q in\n%s", want, ev)
		}
	}
	if h.login().Status.RolloutRestartedDataHash != secrethash.DataHash(rrTokenSecret("token-2").Data) {
		t.Fatal("a missing target keeps the change from being recorded: it would be retried forever")
	}
}

// A transient failure is retried with the same restartedAt value, so that the targets already
// patched do not roll out a second time.
func TestUnitRolloutTransientFailureRetriesIdempotently(t *testing.T) {
	h := newRRHarness(t, rrLogin(rrAllTargets...), rrWorkloads()...)
	h.reconcile()
	h.setToken("token-2")
	h.failPatch = func(obj client.Object) error {
		if obj.GetName() == "db" {
			return apierrors.NewServiceUnavailable("etcd is busy")
		}
		return nil
	}
	_, err := h.r.Reconcile(h.ctx, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: uNS, Name: uName}})
	if err == nil {
		t.Fatal("a transient failure was not returned for a retry")
	}
	at := rfc3339(h.clock.Now())
	if h.login().Status.LastRolloutRestartTime != nil {
		t.Fatal("recorded before every target was patched")
	}

	h.failPatch = nil
	h.clock.Step(10 * time.Second)
	h.reconcile()
	for _, w := range rrWorkloads() {
		if got := h.restartedAt(w); got != at {
			t.Errorf("%s: restartedAt %q, want the first attempt's %q", w.GetName(), got, at)
		}
	}
	if h.login().Status.LastRolloutRestartTime == nil {
		t.Fatal("not recorded after the retry")
	}
}

// A cache that has not yet seen the status write of a restart must not restart again.
func TestUnitRolloutStaleCacheRestartsOnce(t *testing.T) {
	h := newRRHarness(t, rrLogin(rrAllTargets[0]), rrWorkloads()...)
	h.reconcile()
	stale := h.login()
	h.setToken("token-2")
	h.reconcile()
	patches := h.patchCount()

	h.staleLogin = stale // still shows the first hash and no restart
	h.clock.Step(time.Second)
	h.reconcile()
	if h.patchCount() != patches {
		t.Fatal("restarted again from a stale DeviceLogin")
	}
}

func TestUnitRolloutOptOutForgets(t *testing.T) {
	h := newRRHarness(t, rrLogin(rrAllTargets[0]), rrWorkloads()...)
	h.reconcile()
	h.setToken("token-2")
	h.reconcile()
	dl := h.login()
	dl.Spec.RolloutRestartTargets = nil
	if err := h.raw.Update(h.ctx, dl); err != nil {
		t.Fatal(err)
	}
	h.reconcile()
	if st := h.login().Status; st.RolloutRestartedDataHash != "" || st.LastRolloutRestartTime != nil {
		t.Fatalf("status keeps %q %v after the targets were removed", st.RolloutRestartedDataHash, st.LastRolloutRestartTime)
	}
}

func TestUnitRolloutWaitsForTheTokenSecret(t *testing.T) {
	dl := rrLogin(rrAllTargets[0])
	dl.Status.SecretName = ""
	h := newRRHarness(t, dl, rrWorkloads()...)
	h.reconcile()
	if st := h.login().Status; st.RolloutRestartedDataHash != "" {
		t.Fatal("recorded a hash before the DeviceLogin named its token Secret")
	}
}

// A Secret of that name that the DeviceLogin does not control (the cache holds no data of it) is
// not its token Secret.
func TestUnitRolloutIgnoresForeignSecret(t *testing.T) {
	foreign := rrTokenSecret("token-1")
	foreign.OwnerReferences = nil
	h := newRRHarness(t, rrLogin(rrAllTargets[0]))
	if err := h.raw.Update(h.ctx, foreign); err != nil {
		t.Fatal(err)
	}
	h.reconcile()
	if st := h.login().Status; st.RolloutRestartedDataHash != "" {
		t.Fatal("recorded the hash of a Secret the DeviceLogin does not control")
	}
}

func TestUnitRolloutWatchFilters(t *testing.T) {
	h := newRRHarness(t, rrLogin(rrAllTargets[0]))
	secret := func(name, label string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: uNS,
			Labels: map[string]string{authv1alpha1.DeviceLoginLabel: label}}}
	}
	if got := h.r.loginForSecret(h.ctx, secret(rrSecret, uName)); len(got) != 1 || got[0].Name != uName {
		t.Errorf("token Secret maps to %v", got)
	}
	for _, s := range []*corev1.Secret{secret(uStateName, uName), secret(rrSecret, "other"), secret(rrSecret, "")} {
		if got := h.r.loginForSecret(h.ctx, s); len(got) != 0 {
			t.Errorf("Secret %s labelled %q maps to %v", s.Name, s.Labels[authv1alpha1.DeviceLoginLabel], got)
		}
	}

	old := rrTokenSecret("token-1")
	stamped := old.DeepCopy()
	stamped.Annotations = map[string]string{authv1alpha1.DataHashAnnotation: "x"}
	if (secretDataChanged{}).Update(event.UpdateEvent{ObjectOld: old, ObjectNew: stamped}) {
		t.Error("a metadata-only Secret update passes")
	}
	if !(secretDataChanged{}).Update(event.UpdateEvent{ObjectOld: old, ObjectNew: rrTokenSecret("token-2")}) {
		t.Error("a data change is filtered out")
	}

	a := rrLogin()
	b := a.DeepCopy()
	b.Status.RolloutRestartedDataHash = "abc"
	if (restartInputsChanged{}).Update(event.UpdateEvent{ObjectOld: a, ObjectNew: b}) {
		t.Error("the controller's own status write passes")
	}
	b.Status.SecretName = "renamed"
	if !(restartInputsChanged{}).Update(event.UpdateEvent{ObjectOld: a, ObjectNew: b}) {
		t.Error("a new token Secret name is filtered out")
	}
}
