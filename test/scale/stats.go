package main

import (
	"math"
	"slices"
	"time"
)

// percentile is the nearest-rank q-quantile (0 < q <= 1) of ds; ok is false when ds is empty.
func percentile(ds []time.Duration, q float64) (time.Duration, bool) {
	if len(ds) == 0 {
		return 0, false
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(rank, 0), len(s)-1)], true
}

// mean is the arithmetic mean of ds; ok is false when ds is empty.
func mean(ds []time.Duration) (time.Duration, bool) {
	if len(ds) == 0 {
		return 0, false
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds)), true
}

// rfcFloor is when a client that polls exactly every interval from issuance (issued+interval,
// issued+2*interval, ...) first polls at or after the approval: the earliest time a strict
// provider lets any client have the token.
func rfcFloor(issued, approved time.Time, interval time.Duration) time.Time {
	k := int64(1)
	if d := approved.Sub(issued); d > interval {
		k = int64(math.Ceil(float64(d) / float64(interval)))
	}
	return issued.Add(time.Duration(k) * interval)
}

// busiest counts the most events that fall in any window of length w (a sliding window
// [t, t+w) that starts at an event).
func busiest(ts []time.Time, w time.Duration) int {
	s := slices.Clone(ts)
	slices.SortFunc(s, func(a, b time.Time) int { return a.Compare(b) })
	best, j := 0, 0
	for i := range s {
		for j < len(s) && s[j].Sub(s[i]) < w {
			j++
		}
		best = max(best, j-i)
	}
	return best
}
