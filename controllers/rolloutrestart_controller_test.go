package controllers

// Unit tests of the RolloutRestartReconciler: fake client, fake clock, fake recorder. Named
// TestUnit* so that `go test ./controllers/ -run 'Test[^C]'` runs them without an API server.

import (
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/secrethash"
)

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
