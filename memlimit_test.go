package main

import "testing"

// Issue 12: the manager gives the Go runtime 90% of its container's memory limit as a soft limit,
// unless GOMEMLIMIT says otherwise.
func TestSoftMemoryLimit(t *testing.T) {
	for _, tt := range []struct {
		name, gomemlimit, memoryLimit string
		ratio                         float64
		want                          int64
		wantErr                       bool
	}{
		{name: "the downward API's bytes", memoryLimit: "134217728", ratio: 0.9, want: 120795955},
		{name: "a quantity", memoryLimit: "128Mi", ratio: 0.9, want: 120795955},
		{name: "ratio 1", memoryLimit: "64Mi", ratio: 1, want: 64 << 20},
		{name: "GOMEMLIMIT wins", gomemlimit: "100MiB", memoryLimit: "134217728", ratio: 0.9},
		{name: "no container limit known", ratio: 0.9},
		{name: "ratio 0 turns it off", memoryLimit: "134217728"},
		{name: "not a quantity", memoryLimit: "lots", ratio: 0.9, wantErr: true},
		{name: "zero", memoryLimit: "0", ratio: 0.9, wantErr: true},
		{name: "ratio above 1", memoryLimit: "134217728", ratio: 1.5, wantErr: true},
		{name: "negative ratio", memoryLimit: "134217728", ratio: -0.1, wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := softMemoryLimit(tt.gomemlimit, tt.memoryLimit, tt.ratio)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("softMemoryLimit(%q, %q, %v) = %d, %v; want %d, error %t",
					tt.gomemlimit, tt.memoryLimit, tt.ratio, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// Unless GOGC says otherwise, the collector runs when the heap has grown by 40% of its live size
// (Go's default is all of it): the peak memory goal of issue 12.
func TestGCPercent(t *testing.T) {
	if percent, ok := gcPercent(false); !ok || percent != 40 {
		t.Errorf("gcPercent without GOGC = %d, %t; want 40, true", percent, ok)
	}
	if _, ok := gcPercent(true); ok {
		t.Error("gcPercent overrides GOGC")
	}
}
