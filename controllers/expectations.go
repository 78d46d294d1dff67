package controllers

import (
	"strconv"
	"sync"
	"time"
)

// expectationTimeout is how long a reconcile waits for the cache to show this controller's own
// write before it gives up on the cache for that object and reads the API server.
const expectationTimeout = 30 * time.Second

// writeExpectations remember the resourceVersion of this controller's last write of each object it
// reconciles from the cache, as the ReplicaSet controller's expectations do: a reconcile that runs
// before the cache has seen that write reads the object from the API server instead, once, so that
// a stale cache never makes it ask for a second user code, poll with an old device code or
// refresh with an old refresh token. Every other read is served by the cache at no cost to the
// API server.
type writeExpectations struct {
	mu sync.Mutex
	m  map[string]expectedWrite
}

type expectedWrite struct {
	rv string
	at time.Time
}

// wrote records that this controller wrote the object under key, which now has resourceVersion rv.
func (e *writeExpectations) wrote(key, rv string, now time.Time) {
	if rv == "" {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[string]expectedWrite{}
	}
	e.m[key] = expectedWrite{rv: rv, at: now}
}

// forget drops what is expected of key (the object is gone).
func (e *writeExpectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}

// fresh says whether a cached copy of key at resourceVersion rv ("" when the cache does not have
// it) includes this controller's last write. Once it does, or after expectationTimeout, the
// expectation is dropped.
func (e *writeExpectations) fresh(key, rv string, now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	want, ok := e.m[key]
	if !ok {
		return true
	}
	if (rv != "" && rvAtLeast(rv, want.rv)) || now.Sub(want.at) > expectationTimeout {
		delete(e.m, key)
		return true
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
