package secrettemplate

import (
	"runtime"
	"testing"
)

// allocBound is what one Parse or one Render may allocate, whatever the template and values:
// far above the budget the design allows (funcBudget plus the output and its growth, about
// 2 MiB), far below what would hurt a manager limited to 128 Mi.
const allocBound = 16 << 20

// allocated reports the bytes f allocates on the heap (runtime.MemStats.TotalAlloc, which counts
// every allocation, freed or not).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

var sink []byte

func TestAllocatedMeasures(t *testing.T) {
	n := allocated(func() { sink = make([]byte, 3<<20) })
	if n < 3<<20 || n > 3<<20+64<<10 {
		t.Fatalf("allocated measured %d bytes for a 3 MiB slice", n)
	}
}
