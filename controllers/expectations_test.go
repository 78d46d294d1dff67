package controllers

// Tests of writeExpectations (expectations.go) and the watch predicates that feed them (setup.go):
// a reconcile that runs before the cache shows this controller's own write reads a copy of that
// write, not the API server, and not the stale cached object; the echo of an own write queues no
// reconcile; a deletion the watch shows ends the copy's use (issue 12).

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

// staleReads is a reconciler whose cache (Client) serves what cached holds, whatever the API
// server (APIReader, which counts its reads) has.
type staleReads struct {
	r      *DeviceLoginReconciler
	cached map[string]client.Object // by name; nil: not in the cache
	api    client.Client
	gets   atomic.Int32
	clock  *clocktesting.FakeClock
}

func newStaleReads(t *testing.T) *staleReads {
	t.Helper()
	s := unitScheme()
	sr := &staleReads{cached: map[string]client.Object{}, clock: clocktesting.NewFakeClock(uStart)}
	sr.api = fake.NewClientBuilder().WithScheme(s).Build()
	cache := interceptor.NewClient(fake.NewClientBuilder().WithScheme(s).Build(), interceptor.Funcs{
		Get: func(_ context.Context, _ client.WithWatch, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
			c, ok := sr.cached[key.Name]
			if !ok {
				return apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, key.Name)
			}
			if !copyInto(obj, c) {
				t.Fatalf("cache holds a %T, asked for a %T", c, obj)
			}
			return nil
		},
	})
	reader := interceptor.NewClient(sr.api.(client.WithWatch), interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			sr.gets.Add(1)
			return c.Get(ctx, key, obj, opts...)
		},
	})
	sr.r = &DeviceLoginReconciler{Client: cache, APIReader: reader, Scheme: s, Clock: sr.clock}
	return sr
}

func stateAt(rv, code string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "ci" + stateSecretSuffix, Namespace: uNS, ResourceVersion: rv},
		Data:       map[string][]byte{"device_code": []byte(code)},
	}
}

func (sr *staleReads) readState(t *testing.T) (*corev1.Secret, error) {
	t.Helper()
	key := client.ObjectKey{Namespace: uNS, Name: "ci" + stateSecretSuffix}
	var got corev1.Secret
	err := sr.r.read(context.Background(), secretKey(key), key, &got)
	return &got, err
}

// A cache that still shows the version before this controller's write is not believed, and
// neither is the API server asked: the copy of the write is read.
func TestUnitStaleCacheReadsTheOwnWrite(t *testing.T) {
	sr := newStaleReads(t)
	sr.cached["ci"+stateSecretSuffix] = stateAt("10", "OLD-DEVICE-CODE")
	sr.r.expect.wrote(secretKey(client.ObjectKey{Namespace: uNS, Name: "ci" + stateSecretSuffix}), stateAt("12", "NEW-DEVICE-CODE"), sr.clock.Now())

	got, err := sr.readState(t)
	if err != nil {
		t.Fatal(err)
	}
	if code := string(got.Data["device_code"]); code != "NEW-DEVICE-CODE" || got.ResourceVersion != "12" {
		t.Errorf("read device code %q at resourceVersion %s, want NEW-DEVICE-CODE at 12", code, got.ResourceVersion)
	}
	if n := sr.gets.Load(); n != 0 {
		t.Errorf("the read asked the API server %d times, want 0", n)
	}

	// Once the cache shows the write (or anything newer), the cache is read again.
	sr.cached["ci"+stateSecretSuffix] = stateAt("14", "OTHER-DEVICE-CODE")
	if got, _ := sr.readState(t); string(got.Data["device_code"]) != "OTHER-DEVICE-CODE" {
		t.Errorf("read %q once the cache caught up, want the cache's OTHER-DEVICE-CODE", got.Data["device_code"])
	}
}

// A cache that does not have the object yet (the create's event has not arrived) is not believed
// either: the copy is read, so that a new state Secret's device code is never forgotten (which
// would ask for a second user code).
func TestUnitCacheWithoutTheCreatedObjectReadsTheOwnWrite(t *testing.T) {
	sr := newStaleReads(t)
	sr.r.expect.wrote(secretKey(client.ObjectKey{Namespace: uNS, Name: "ci" + stateSecretSuffix}), stateAt("12", "NEW-DEVICE-CODE"), sr.clock.Now())
	got, err := sr.readState(t)
	if err != nil || string(got.Data["device_code"]) != "NEW-DEVICE-CODE" {
		t.Fatalf("read %q, %v; want NEW-DEVICE-CODE", got.Data["device_code"], err)
	}
	if n := sr.gets.Load(); n != 0 {
		t.Errorf("the read asked the API server %d times, want 0", n)
	}
	// After expectationTimeout the cache is believed again.
	sr.clock.Step(expectationTimeout + time.Second)
	if _, err := sr.readState(t); !apierrors.IsNotFound(err) {
		t.Errorf("read after expectationTimeout: %v, want the cache's NotFound", err)
	}
}

// A deletion that the watch shows after the write ends the copy's use; the deletion of an older
// object of the same name (deleted, then created again by this controller) does not.
func TestUnitDeletionShownByTheWatchEndsTheOwnCopy(t *testing.T) {
	sr := newStaleReads(t)
	key := secretKey(client.ObjectKey{Namespace: uNS, Name: "ci" + stateSecretSuffix})
	pred := notOwnWrite{expect: &sr.r.expect}
	sr.r.expect.wrote(key, stateAt("12", "NEW-DEVICE-CODE"), sr.clock.Now())

	if !pred.Delete(event.DeleteEvent{Object: stateAt("9", "OLDER")}) {
		t.Fatal("a deletion was filtered out")
	}
	if got, err := sr.readState(t); err != nil || string(got.Data["device_code"]) != "NEW-DEVICE-CODE" {
		t.Fatalf("after the deletion of an older Secret: read %q, %v; want the copy NEW-DEVICE-CODE", got.Data["device_code"], err)
	}
	pred.Delete(event.DeleteEvent{Object: stateAt("15", "NEW-DEVICE-CODE")})
	if _, err := sr.readState(t); !apierrors.IsNotFound(err) {
		t.Errorf("after the deletion of the written Secret: %v, want NotFound", err)
	}
}

// The watch event of this controller's own write queues no reconcile; someone else's write, or a
// second event of the same version, does.
func TestUnitEchoOfAnOwnWriteQueuesNothing(t *testing.T) {
	sr := newStaleReads(t)
	pred := notOwnWrite{expect: &sr.r.expect}
	key := secretKey(client.ObjectKey{Namespace: uNS, Name: "ci" + stateSecretSuffix})
	sr.r.expect.wrote(key, stateAt("12", "CODE"), sr.clock.Now())

	if !pred.Update(event.UpdateEvent{ObjectOld: stateAt("10", "X"), ObjectNew: stateAt("11", "Y")}) {
		t.Error("someone else's earlier write was filtered out")
	}
	if pred.Create(event.CreateEvent{Object: stateAt("12", "CODE")}) {
		t.Error("the echo of the own write queues a reconcile")
	}
	if !pred.Update(event.UpdateEvent{ObjectOld: stateAt("12", "CODE"), ObjectNew: stateAt("12", "CODE")}) {
		t.Error("a second event of the same version (a resync) was filtered out")
	}
	if !pred.Update(event.UpdateEvent{ObjectOld: stateAt("12", "CODE"), ObjectNew: stateAt("13", "EDITED")}) {
		t.Error("someone else's later write was filtered out")
	}
	// The echo also ends the copy's use: the cache holds the write now.
	sr.cached["ci"+stateSecretSuffix] = stateAt("11", "STALE")
	if got, _ := sr.readState(t); string(got.Data["device_code"]) != "STALE" {
		t.Errorf("read %q after the echo, want what the cache holds", got.Data["device_code"])
	}
}

// The DeviceLogin watch lets every event through (its own filters decide) and drops the copy of
// a status write once its echo arrived.
func TestUnitLoginEchoesEndTheCopy(t *testing.T) {
	sr := newStaleReads(t)
	pred := loginEchoes{expect: &sr.r.expect}
	dl := uDeviceLogin()
	dl.ResourceVersion = "20"
	key := loginKey(client.ObjectKeyFromObject(dl))
	sr.r.expect.wrote(key, dl, sr.clock.Now())
	if !pred.Update(event.UpdateEvent{ObjectOld: dl, ObjectNew: dl}) {
		t.Error("the DeviceLogin echo was filtered out")
	}
	if fresh, own := sr.r.expect.fresh(key, "", sr.clock.Now()); !fresh || own != nil {
		t.Errorf("after the echo: fresh %v, copy %v; want the cache believed", fresh, own)
	}
	if !pred.Delete(event.DeleteEvent{Object: dl}) {
		t.Error("the deletion was filtered out")
	}
}
