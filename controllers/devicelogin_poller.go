package controllers

import (
	"context"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// duePolls runs the reconcile of a DeviceLogin whose pending code is due for a poll on a goroutine
// of its own, at the poll's time, instead of adding it to the controller's work queue. A burst of
// new logins or of approvals fills the queue with reconciles that each wait on several API server
// writes; a poll that queued behind them would reach the provider late, and every second late is
// a second the person who approved waits for the token. A due poll so waits only for its own
// login: the per-DeviceLogin lock of the reconciler (loginLocks) keeps it from running beside a
// queued reconcile of the same object.
//
// It is the controller's source as well (Start receives the work queue), so that what the
// reconcile returns (an error, a later wake) goes back to the queue exactly as a queued reconcile's
// would, and a Runnable of the manager (Drain), so that the manager waits for polls in flight
// before it exits: their answer may carry tokens that must be stored.
type duePolls struct {
	reconcile func(context.Context, reconcile.Request) (reconcile.Result, error)
	clock     clock.PassiveClock
	log       logr.Logger
	// limit bounds the provider requests of due polls in flight at once; stores bounds the due
	// polls that write what an answer brought (tokens) at once. A poll gives its slot in limit back
	// as soon as the provider has answered (pollAnswered), so that slow API server writes after
	// approvals never hold up the polls that are due next, and writes take a slot in stores, so that
	// a burst of approvals does not crowd out the work queue's reconciles (new logins' user codes)
	// at the API server.
	limit  chan struct{}
	stores chan struct{}

	mu      sync.Mutex
	ctx     context.Context // the controller's, set by Start
	queue   workqueue.TypedRateLimitingInterface[reconcile.Request]
	stopped bool
	due     map[types.NamespacedName]*dueEntry
	running sync.WaitGroup
}

// dueEntry is one booked poll.
type dueEntry struct {
	at    time.Time
	timer *time.Timer
}

func newDuePolls(run func(context.Context, reconcile.Request) (reconcile.Result, error), clk clock.PassiveClock, logger logr.Logger, maxInFlight, maxStores int) *duePolls {
	return &duePolls{
		reconcile: run, clock: clk, log: logger,
		limit:  make(chan struct{}, max(maxInFlight, 1)),
		stores: make(chan struct{}, max(maxStores, 1)),
		due:    map[types.NamespacedName]*dueEntry{},
	}
}

// book makes the DeviceLogin's next reconcile run at t on a goroutine of its own, replacing a
// poll booked earlier.
func (p *duePolls) book(key types.NamespacedName, t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	if e, ok := p.due[key]; ok {
		if e.at.Equal(t) {
			return
		}
		if e.timer != nil {
			e.timer.Stop()
		}
	}
	e := &dueEntry{at: t}
	p.due[key] = e
	if p.ctx != nil {
		p.arm(key, e)
	}
}

// forget drops the booked poll of a DeviceLogin.
func (p *duePolls) forget(key types.NamespacedName) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.due[key]; ok {
		if e.timer != nil {
			e.timer.Stop()
		}
		delete(p.due, key)
	}
}

// booked reports whether a poll of the DeviceLogin is booked.
func (p *duePolls) booked(key types.NamespacedName) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.due[key]
	return ok
}

// arm starts the timer of a booked poll; p.mu is held.
func (p *duePolls) arm(key types.NamespacedName, e *dueEntry) {
	e.timer = time.AfterFunc(e.at.Sub(p.clock.Now()), func() { p.fire(key, e) })
}

// Start is the source side: it receives the controller's work queue and arms the polls booked
// before. It returns at once; the controller's context ends the polls.
func (p *duePolls) Start(ctx context.Context, queue workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ctx, p.queue = ctx, queue
	for key, e := range p.due {
		p.arm(key, e)
	}
	return nil
}

// String names the source in the controller's logs.
func (p *duePolls) String() string { return "due polls" }

// Drain is the Runnable side: when the manager stops, it stops every booked poll and waits for
// those in flight.
func (p *duePolls) Drain(ctx context.Context) error {
	<-ctx.Done()
	p.mu.Lock()
	p.stopped = true
	for key, e := range p.due {
		if e.timer != nil {
			e.timer.Stop()
		}
		delete(p.due, key)
	}
	p.mu.Unlock()
	p.running.Wait()
	return nil
}

// fire runs the reconcile of a due poll and hands what it returns to the work queue.
func (p *duePolls) fire(key types.NamespacedName, e *dueEntry) {
	p.mu.Lock()
	if p.stopped || p.due[key] != e || p.ctx.Err() != nil {
		p.mu.Unlock()
		return
	}
	delete(p.due, key)
	ctx, queue := p.ctx, p.queue
	p.running.Add(1)
	p.mu.Unlock()
	defer p.running.Done()

	select {
	case p.limit <- struct{}{}:
	case <-ctx.Done():
		return
	}
	g := &pollGate{p: p, polling: true}
	defer g.release()
	req := reconcile.Request{NamespacedName: key}
	logger := p.log.WithValues("DeviceLogin", klog.KRef(key.Namespace, key.Name), "namespace", key.Namespace, "name", key.Name)
	result, err := p.reconcile(context.WithValue(log.IntoContext(ctx, logger), pollGateKey{}, g), req)
	switch {
	case err != nil:
		logger.Error(err, "Reconciler error")
		queue.AddRateLimited(req)
	case result.RequeueAfter > 0:
		queue.AddAfter(req, result.RequeueAfter)
	case result.Requeue: //nolint:staticcheck // SA1019: honoured as the controller does
		queue.AddRateLimited(req)
	}
}

// pollGate is the slots one due poll holds: its provider request's (in limit) until the provider
// answered, then a store's (in stores) when the answer brought something to write.
type pollGate struct {
	p                *duePolls
	polling, storing bool
}

// pollGateKey carries a due poll's pollGate in the reconcile's context.
type pollGateKey struct{}

// pollAnswered tells the due poll running in ctx, if any, that the provider answered: its poll slot
// goes back, so that the next due poll need not wait for this one's writes, and when store is set
// (the answer brought tokens) it waits for a store slot before the writes. Outside a due poll
// (a reconcile of the work queue) it does nothing.
func pollAnswered(ctx context.Context, store bool) {
	g, ok := ctx.Value(pollGateKey{}).(*pollGate)
	if !ok || !g.polling {
		return
	}
	<-g.p.limit
	g.polling = false
	if !store {
		return
	}
	select {
	case g.p.stores <- struct{}{}:
		g.storing = true
	case <-ctx.Done():
		// Shutting down: the writes go ahead without a slot, so that the tokens are not lost
		// (their writes do not end with ctx either).
	}
}

// release gives back the slots the due poll still holds.
func (g *pollGate) release() {
	if g.polling {
		<-g.p.limit
	}
	if g.storing {
		<-g.p.stores
	}
	g.polling, g.storing = false, false
}

// loginLocks holds one mutex per DeviceLogin that a reconcile is running for, so that a due poll
// (duePolls) and a queued reconcile of the same object never run at once. The work queue already
// keeps two queued reconciles of one object apart.
type loginLocks struct {
	mu    sync.Mutex
	locks map[types.NamespacedName]*loginLock
}

type loginLock struct {
	sync.Mutex
	users int
}

// lock waits for the DeviceLogin's lock and returns its unlock.
func (l *loginLocks) lock(key types.NamespacedName) (unlock func()) {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[types.NamespacedName]*loginLock{}
	}
	k := l.locks[key]
	if k == nil {
		k = &loginLock{}
		l.locks[key] = k
	}
	k.users++
	l.mu.Unlock()
	k.Lock()
	return func() {
		k.Unlock()
		l.mu.Lock()
		k.users--
		if k.users == 0 {
			delete(l.locks, key)
		}
		l.mu.Unlock()
	}
}
