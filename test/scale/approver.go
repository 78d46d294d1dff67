package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/devicelogin-dev/devicelogin-operator/internal/testidp"
)

// The scopes that tell the benchmark's clients apart at the one provider they share.
const (
	scopeFlow    = "bench.flow"    // the operator's DeviceLogins whose codes are approved
	scopeNaive   = "bench.naive"   // the naive x/oauth2 client
	scopePending = "bench.pending" // the operator's DeviceLogins whose codes nobody approves
)

// approvalOffsets draws n offsets, uniform in [lo, hi), from seed: the k-th of them is how long
// after its issuance the k-th code of a client is approved. Every client gets the same list.
func approvalOffsets(seed uint64, n int, lo, hi time.Duration) []time.Duration {
	r := rand.New(rand.NewPCG(seed, 0x5ca1e)) //nolint:gosec // seeded on purpose: the same approval offsets on every run, nothing secret
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = lo + time.Duration(r.Int64N(int64(hi-lo)))
	}
	return out
}

// approver plays the people who approve codes at the provider, through its approval API: the
// k-th code issued with a scope listed in offsets is approved offsets[scope][k] after its
// issuance (on the provider's clock); codes with other scopes are left pending.
type approver struct {
	idp     *testidp.Server
	offsets map[string][]time.Duration
	subject string
	every   time.Duration // how often new codes are looked for

	mu        sync.Mutex
	seen      int            // timelines handled so far (they come in issue order)
	perScope  map[string]int // codes scheduled so far, by scope
	timers    []*time.Timer
	scheduled int
	errs      []error
}

func newApprover(idp *testidp.Server, offsets map[string][]time.Duration) *approver {
	return &approver{idp: idp, offsets: offsets, subject: "bench@example.com", every: 20 * time.Millisecond,
		perScope: map[string]int{}}
}

// run schedules approvals until ctx ends, then cancels the ones not yet done.
func (a *approver) run(ctx context.Context) {
	tick := time.NewTicker(a.every)
	defer tick.Stop()
	for {
		a.scheduleNew()
		select {
		case <-ctx.Done():
			a.mu.Lock()
			for _, t := range a.timers {
				t.Stop()
			}
			a.mu.Unlock()
			return
		case <-tick.C:
		}
	}
}

// scheduleNew looks at the codes issued since the last look.
func (a *approver) scheduleNew() {
	tls := a.idp.CodeTimelines()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, tl := range tls[a.seen:] {
		offs := a.offsets[tl.Scope]
		if len(offs) == 0 {
			continue
		}
		k := a.perScope[tl.Scope]
		a.perScope[tl.Scope]++
		code := tl.UserCode
		a.scheduled++
		a.timers = append(a.timers, time.AfterFunc(time.Until(tl.IssuedAt.Add(offs[k%len(offs)])), func() {
			if err := a.idp.Approve(code, a.subject); err != nil {
				a.mu.Lock()
				a.errs = append(a.errs, fmt.Errorf("approving the %s code: %w", tl.Scope, err))
				a.mu.Unlock()
			}
		}))
	}
	a.seen = len(tls)
}

// errors are the approvals the provider refused (an expired code, say).
func (a *approver) errors() []error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]error(nil), a.errs...)
}
