package controllers

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// recordingQueue is the controller's work queue as duePolls sees it: it records what a due poll
// hands back.
type recordingQueue struct {
	workqueue.TypedRateLimitingInterface[reconcile.Request]
	mu          sync.Mutex
	after       map[reconcile.Request]time.Duration
	rateLimited []reconcile.Request
}

func (q *recordingQueue) AddAfter(r reconcile.Request, d time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.after == nil {
		q.after = map[reconcile.Request]time.Duration{}
	}
	q.after[r] = d
}

func (q *recordingQueue) AddRateLimited(r reconcile.Request) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.rateLimited = append(q.rateLimited, r)
}

func (q *recordingQueue) snapshot() (map[reconcile.Request]time.Duration, []reconcile.Request) {
	q.mu.Lock()
	defer q.mu.Unlock()
	after := map[reconcile.Request]time.Duration{}
	for k, v := range q.after {
		after[k] = v
	}
	return after, append([]reconcile.Request(nil), q.rateLimited...)
}

// pollRecorder is a reconcile that records when it ran for which key.
type pollRecorder struct {
	mu     sync.Mutex
	ran    []types.NamespacedName
	at     []time.Time
	result reconcile.Result
	err    error
	block  chan struct{} // when set, every run waits for it to close
	active atomic.Int32
	most   atomic.Int32
}

func (p *pollRecorder) reconcile(_ context.Context, req reconcile.Request) (reconcile.Result, error) {
	n := p.active.Add(1)
	defer p.active.Add(-1)
	for {
		m := p.most.Load()
		if n <= m || p.most.CompareAndSwap(m, n) {
			break
		}
	}
	p.mu.Lock()
	p.ran = append(p.ran, req.NamespacedName)
	p.at = append(p.at, time.Now())
	p.mu.Unlock()
	if p.block != nil {
		<-p.block
	}
	return p.result, p.err
}

func (p *pollRecorder) runs() ([]types.NamespacedName, []time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]types.NamespacedName(nil), p.ran...), append([]time.Time(nil), p.at...)
}

func startDuePolls(t *testing.T, rec *pollRecorder, maxInFlight int) (*duePolls, *recordingQueue, context.CancelFunc) {
	t.Helper()
	p := newDuePolls(rec.reconcile, clock.RealClock{}, logr.Discard(), maxInFlight, maxInFlight)
	q := &recordingQueue{}
	ctx, cancel := context.WithCancel(context.Background())
	if err := p.Start(ctx, q); err != nil {
		t.Fatal(err)
	}
	drained := make(chan struct{})
	go func() { _ = p.Drain(ctx); close(drained) }()
	t.Cleanup(func() {
		cancel()
		<-drained
	})
	return p, q, cancel
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var (
	keyA = types.NamespacedName{Namespace: "team-a", Name: "ci"}
	keyB = types.NamespacedName{Namespace: "team-b", Name: "bot"}
)

func TestDuePollRunsAtItsTimeNotBefore(t *testing.T) {
	rec := &pollRecorder{}
	p, _, _ := startDuePolls(t, rec, 4)
	at := time.Now().Add(80 * time.Millisecond)
	p.book(keyA, at)
	if !p.booked(keyA) {
		t.Fatal("the poll is not booked")
	}
	waitFor(t, "the due poll", func() bool { ran, _ := rec.runs(); return len(ran) == 1 })
	ran, when := rec.runs()
	if ran[0] != keyA {
		t.Fatalf("ran %v, want %v", ran[0], keyA)
	}
	if when[0].Before(at) {
		t.Fatalf("the poll ran %v before its time", at.Sub(when[0]))
	}
	if p.booked(keyA) {
		t.Fatal("a poll that ran is still booked")
	}
}

func TestDuePollBookedAgainReplacesTheEarlierOne(t *testing.T) {
	rec := &pollRecorder{}
	p, _, _ := startDuePolls(t, rec, 4)
	p.book(keyA, time.Now().Add(time.Hour))
	p.book(keyA, time.Now().Add(20*time.Millisecond))
	later := time.Now().Add(40 * time.Millisecond)
	p.book(keyB, later)
	p.book(keyB, later) // the same time twice is one poll
	waitFor(t, "both polls", func() bool { ran, _ := rec.runs(); return len(ran) == 2 })
	time.Sleep(100 * time.Millisecond)
	if ran, _ := rec.runs(); len(ran) != 2 {
		t.Fatalf("ran %v, want one poll of each login", ran)
	}
}

func TestDuePollForgottenDoesNotRun(t *testing.T) {
	rec := &pollRecorder{}
	p, _, _ := startDuePolls(t, rec, 4)
	p.book(keyA, time.Now().Add(30*time.Millisecond))
	p.book(keyB, time.Now().Add(60*time.Millisecond))
	p.forget(keyA)
	waitFor(t, "the poll of B", func() bool { ran, _ := rec.runs(); return len(ran) == 1 })
	time.Sleep(50 * time.Millisecond)
	if ran, _ := rec.runs(); len(ran) != 1 || ran[0] != keyB {
		t.Fatalf("ran %v, want only %v", ran, keyB)
	}
}

func TestDuePollBookedBeforeStartRunsAfterStart(t *testing.T) {
	rec := &pollRecorder{}
	p := newDuePolls(rec.reconcile, clock.RealClock{}, logr.Discard(), 4, 4)
	p.book(keyA, time.Now().Add(10*time.Millisecond))
	time.Sleep(40 * time.Millisecond)
	if ran, _ := rec.runs(); len(ran) != 0 {
		t.Fatalf("a poll ran before the controller started: %v", ran)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := p.Start(ctx, &recordingQueue{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the poll booked before the start", func() bool { ran, _ := rec.runs(); return len(ran) == 1 })
}

func TestDuePollHandsWhatItReturnsToTheQueue(t *testing.T) {
	rec := &pollRecorder{result: reconcile.Result{RequeueAfter: time.Hour}}
	p, q, _ := startDuePolls(t, rec, 4)
	p.book(keyA, time.Now())
	waitFor(t, "the wake in the queue", func() bool { after, _ := q.snapshot(); return len(after) == 1 })
	after, limited := q.snapshot()
	if d := after[reconcile.Request{NamespacedName: keyA}]; d != time.Hour || len(limited) != 0 {
		t.Fatalf("queue got AddAfter %v and AddRateLimited %v, want AddAfter 1h only", after, limited)
	}

	failing := &pollRecorder{err: errors.New("the API server is away")}
	p2, q2, _ := startDuePolls(t, failing, 4)
	p2.book(keyB, time.Now())
	waitFor(t, "the retry in the queue", func() bool { _, limited := q2.snapshot(); return len(limited) == 1 })
	if after, limited := q2.snapshot(); len(after) != 0 || limited[0].NamespacedName != keyB {
		t.Fatalf("queue got AddAfter %v and AddRateLimited %v, want a rate-limited retry of %v", after, limited, keyB)
	}
}

func TestDuePollsInFlightAreBounded(t *testing.T) {
	rec := &pollRecorder{block: make(chan struct{})}
	p, _, _ := startDuePolls(t, rec, 2)
	for i := range 5 {
		p.book(types.NamespacedName{Namespace: "ns", Name: string(rune('a' + i))}, time.Now())
	}
	waitFor(t, "two polls in flight", func() bool { return rec.active.Load() == 2 })
	time.Sleep(50 * time.Millisecond)
	if n := rec.most.Load(); n != 2 {
		t.Fatalf("%d polls ran at once, want at most 2", n)
	}
	close(rec.block)
	waitFor(t, "every poll", func() bool { ran, _ := rec.runs(); return len(ran) == 5 })
}

func TestDuePollsDrainStopsBookedPollsAndWaitsForThoseInFlight(t *testing.T) {
	rec := &pollRecorder{block: make(chan struct{})}
	p := newDuePolls(rec.reconcile, clock.RealClock{}, logr.Discard(), 4, 4)
	ctx, cancel := context.WithCancel(context.Background())
	if err := p.Start(ctx, &recordingQueue{}); err != nil {
		t.Fatal(err)
	}
	p.book(keyA, time.Now())
	p.book(keyB, time.Now().Add(50*time.Millisecond))
	waitFor(t, "the poll in flight", func() bool { return rec.active.Load() == 1 })
	drained := make(chan struct{})
	go func() { _ = p.Drain(ctx); close(drained) }()
	cancel()
	select {
	case <-drained:
		t.Fatal("Drain returned while a poll was still in flight: its tokens could be lost")
	case <-time.After(100 * time.Millisecond):
	}
	close(rec.block)
	<-drained
	if ran, _ := rec.runs(); len(ran) != 1 || ran[0] != keyA {
		t.Fatalf("ran %v, want only the poll that was in flight, %v", ran, keyA)
	}
	p.book(keyA, time.Now())
	if p.booked(keyA) {
		t.Fatal("a poll was booked after the manager stopped")
	}
}

func TestLoginLocksKeepOneLoginsReconcilesApart(t *testing.T) {
	var l loginLocks
	unlockA := l.lock(keyA)
	unlockB := l.lock(keyB) // another login does not wait
	got := make(chan struct{})
	go func() {
		unlock := l.lock(keyA)
		close(got)
		unlock()
	}()
	select {
	case <-got:
		t.Fatal("a second reconcile of the same login ran beside the first")
	case <-time.After(50 * time.Millisecond):
	}
	unlockA()
	<-got
	unlockB()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.locks) != 0 {
		t.Fatalf("%d locks are kept after every reconcile ended", len(l.locks))
	}
}

// A due poll gives its provider slot back as soon as the provider answered: a poll whose approval
// is being stored (slow API server writes) does not hold up the next due poll. The stores are
// bounded on their own.
func TestDuePollFreesItsSlotOnceAnsweredAndStoresAreBounded(t *testing.T) {
	release := make(chan struct{})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	var mu sync.Mutex
	var polled, stored []string
	run := func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
		mu.Lock()
		polled = append(polled, req.Name)
		mu.Unlock()
		pollAnswered(ctx, true) // the provider answered with tokens
		mu.Lock()
		stored = append(stored, req.Name)
		mu.Unlock()
		<-release // the writes take their time
		return reconcile.Result{}, nil
	}
	p := newDuePolls(run, clock.RealClock{}, logr.Discard(), 1, 1)
	ctx, cancel := context.WithCancel(context.Background())
	if err := p.Start(ctx, &recordingQueue{}); err != nil {
		t.Fatal(err)
	}
	drained := make(chan struct{})
	go func() { _ = p.Drain(ctx); close(drained) }()
	t.Cleanup(func() { free(); cancel(); <-drained })

	snapshot := func() ([]string, []string) {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), polled...), append([]string(nil), stored...)
	}
	p.book(keyA, time.Now())
	waitFor(t, "the first poll storing", func() bool { _, s := snapshot(); return len(s) == 1 })
	p.book(keyB, time.Now())
	waitFor(t, "the second poll, while the first one stores", func() bool { pl, _ := snapshot(); return len(pl) == 2 })
	time.Sleep(50 * time.Millisecond)
	if _, s := snapshot(); len(s) != 1 {
		t.Fatalf("stores %v ran at once, want one at a time", s)
	}
	free()
	waitFor(t, "both stores", func() bool { _, s := snapshot(); return len(s) == 2 })
}

// Outside a due poll (a reconcile of the work queue), pollAnswered does nothing.
func TestPollAnsweredOutsideADuePoll(t *testing.T) {
	done := make(chan struct{})
	go func() { pollAnswered(context.Background(), true); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("pollAnswered blocked outside a due poll")
	}
}
