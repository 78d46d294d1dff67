package controllers

import (
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// expectationTimeout is how long a reconcile trusts this controller's own copy of its last write
// over a cache that has not shown it yet; after that, the cache is believed again.
const expectationTimeout = 30 * time.Second

// writeExpectations remember this controller's last write of each object it reconciles from the
// cache (a copy of the object as the API server returned it), as the ReplicaSet controller's
// expectations remember what it created: a reconcile that runs before the cache has seen that
// write reads the copy instead, so that a stale cache never makes it ask for a second user code,
// poll with an old device code or refresh with an old refresh token, and neither does it cost a
// request to the API server, which a burst of new logins keeps busy (and would make a due poll
// late). The watches report deletions (deleted), so that a copy never stands in for an object that
// is gone.
//
// They also remember each write until its watch event arrives (echoed), so that the watch need not
// queue a reconcile for what the reconcile that wrote it already knows: in a burst of new logins,
// those echoes would wait in the queue beside the logins still waiting for a user code.
type writeExpectations struct {
	mu   sync.Mutex
	m    map[string]expectedWrite
	echo map[string]string
}

type expectedWrite struct {
	obj client.Object
	at  time.Time
}

// wrote records that this controller wrote obj, which the API server returned, under key.
func (e *writeExpectations) wrote(key string, obj client.Object, now time.Time) {
	rv := obj.GetResourceVersion()
	if rv == "" {
		return
	}
	c, ok := obj.DeepCopyObject().(client.Object)
	if !ok {
		return
	}
	_, _ = TrimCachedObject(c) // as the cache holds it
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m, e.echo = map[string]expectedWrite{}, map[string]string{}
	}
	e.m[key] = expectedWrite{obj: c, at: now}
	e.echo[key] = rv
}

// echoed says whether a watch event that shows the object under key at resourceVersion rv is
// this controller's own last write of it coming back, and forgets that write when it is. Any
// other version (someone else's write, or one of ours that a later one replaced) is not. An event
// at or past the last write also ends the expectation: the cache holds it now.
func (e *writeExpectations) echoed(key, rv string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seen(key, rv)
	if rv == "" || e.echo[key] != rv {
		return false
	}
	delete(e.echo, key)
	return true
}

// deleted records that the watch saw the object under key deleted at resourceVersion rv (its last
// one). A deletion of what this controller last wrote, or of something newer, ends what is
// expected: the cache is right that it is gone. The deletion of an older object of the same name
// (a state Secret deleted and created again) does not.
func (e *writeExpectations) deleted(key, rv string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.echo, key)
	e.seen(key, rv)
}

// seen ends what is expected of key when the watch showed it at resourceVersion rv, the last
// write or later; e.mu is held.
func (e *writeExpectations) seen(key, rv string) {
	if w, ok := e.m[key]; ok && rv != "" && rvAtLeast(rv, w.obj.GetResourceVersion()) {
		delete(e.m, key)
	}
}

// forget drops what is expected of key (the object is gone).
func (e *writeExpectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
	delete(e.echo, key)
}

// fresh says whether a cached copy of key at resourceVersion rv ("" when the cache does not have
// it) includes this controller's last write; when it does not, it also returns that write's copy,
// to read instead. Once the cache has the write, or after expectationTimeout, the expectation is
// dropped. A cache without the object has not seen the write yet: a deletion that the watch
// showed after it ended the expectation (deleted).
func (e *writeExpectations) fresh(key, rv string, now time.Time) (bool, client.Object) {
	e.mu.Lock()
	defer e.mu.Unlock()
	want, ok := e.m[key]
	if !ok {
		return true, nil
	}
	if (rv != "" && rvAtLeast(rv, want.obj.GetResourceVersion())) || now.Sub(want.at) > expectationTimeout {
		delete(e.m, key)
		return true, nil
	}
	return false, want.obj
}

// copyInto sets obj to a copy of from, when both are of the kind the controller reads with
// expectations; it reports whether it did.
func copyInto(obj, from client.Object) bool {
	switch o := obj.(type) {
	case *authv1alpha1.DeviceLogin:
		f, ok := from.(*authv1alpha1.DeviceLogin)
		if ok {
			f.DeepCopyInto(o)
		}
		return ok
	case *corev1.Secret:
		f, ok := from.(*corev1.Secret)
		if ok {
			f.DeepCopyInto(o)
		}
		return ok
	}
	return false
}

// rvAtLeast says whether resourceVersion have is want or newer. Resource versions are opaque, but
// the API server's are etcd revisions, which only grow; anything that does not parse compares
// equal or not at all.
func rvAtLeast(have, want string) bool {
	if have == want {
		return true
	}
	h, err1 := strconv.ParseUint(have, 10, 64)
	w, err2 := strconv.ParseUint(want, 10, 64)
	return err1 == nil && err2 == nil && h >= w
}
