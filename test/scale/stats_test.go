package main

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ds := []time.Duration{5, 1, 4, 2, 3, 10, 9, 8, 7, 6} // 1..10
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5}, {0.99, 10}, {0.9, 9}, {0.01, 1}, {1, 10}} {
		if got, ok := percentile(ds, tc.q); !ok || got != tc.want {
			t.Errorf("p%v = %v, %v; want %v", tc.q*100, got, ok, tc.want)
		}
	}
	if ds[0] != 5 {
		t.Errorf("percentile sorted its input")
	}
	if _, ok := percentile(nil, 0.5); ok {
		t.Errorf("percentile of nothing is ok")
	}
}

func TestMean(t *testing.T) {
	if got, ok := mean([]time.Duration{time.Second, 3 * time.Second}); !ok || got != 2*time.Second {
		t.Errorf("mean = %v, %v", got, ok)
	}
	if _, ok := mean(nil); ok {
		t.Errorf("mean of nothing is ok")
	}
}

func TestRFCFloor(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const iv = 5 * time.Second
	for _, tc := range []struct {
		approvedAfter, want time.Duration
	}{
		{0, iv},                                     // the first poll is one interval after issuance
		{500 * time.Millisecond, iv},                // approved early: the first poll
		{iv, iv},                                    // approved just as the first poll goes out
		{iv + time.Nanosecond, 2 * iv},              // just missed it: the next one
		{4*iv + 300*time.Millisecond, 5 * iv},       // a late approval
		{2 * iv, 2 * iv},                            // exactly on a poll
		{2*iv - time.Millisecond, 2 * iv},           // just before one
		{9*iv + 999*time.Millisecond, 10 * iv},      // far out
		{time.Duration(-1), iv},                     // clock noise: never before the first poll
		{3*iv + 4500*time.Millisecond - iv, 3 * iv}, // 2 iv + 4.5 s
	} {
		if got := rfcFloor(t0, t0.Add(tc.approvedAfter), iv); !got.Equal(t0.Add(tc.want)) {
			t.Errorf("approved after %v: floor at +%v, want +%v", tc.approvedAfter, got.Sub(t0), tc.want)
		}
	}
}

func TestBusiest(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(secs ...float64) []time.Time {
		var ts []time.Time
		for _, s := range secs {
			ts = append(ts, t0.Add(time.Duration(s*float64(time.Second))))
		}
		return ts
	}
	for _, tc := range []struct {
		name string
		ts   []time.Time
		want int
	}{
		{"none", nil, 0},
		{"one", at(3), 1},
		{"all together", at(1, 1, 1, 1), 4},
		{"window is half-open", at(0, 5, 10), 1},
		{"a cluster later", at(0, 10, 11, 12, 14.9, 20), 4},
		{"unsorted", at(12, 0, 14.9, 11, 20, 10), 4},
	} {
		if got := busiest(tc.ts, 5*time.Second); got != tc.want {
			t.Errorf("%s: busiest = %d, want %d", tc.name, got, tc.want)
		}
	}
}
