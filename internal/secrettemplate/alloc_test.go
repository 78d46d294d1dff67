package secrettemplate

import (
	"runtime"
	"testing"
)

// allocBound is what the fuzzer lets one Parse or one Render allocate, whatever the template
// and values: far above designBound, far below what would hurt a manager limited to 128 Mi.
const allocBound = 16 << 20

// designBound is what one Render can allocate by design: the function budget (plus the
// allocator's rounding, at most an eighth), the output grown by doubling (less than twice
// MaxRenderedSize), and bookkeeping (argument slices, variables, error text).
const designBound = funcBudget + funcBudget/8 + 2*MaxRenderedSize + 64<<10

// allocated reports the bytes f allocates on the heap (runtime.MemStats.TotalAlloc, which counts
// every allocation, freed or not).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// leastAllocated is allocated over a few runs of f, keeping the least: TotalAlloc counts every
// goroutine of the process, and anything else that allocates meanwhile (the runtime, the test
// framework, coverage) only ever adds to the figure. f must be safe to run more than once.
func leastAllocated(f func()) uint64 {
	least := allocated(f)
	for range 4 {
		least = min(least, allocated(f))
	}
	return least
}

var sink []byte

func TestAllocatedMeasures(t *testing.T) {
	n := allocated(func() { sink = make([]byte, 3<<20) })
	if n < 3<<20 || n > 3<<20+64<<10 {
		t.Fatalf("allocated measured %d bytes for a 3 MiB slice", n)
	}
}
