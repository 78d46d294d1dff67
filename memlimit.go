package main

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"
)

// memoryLimitEnv holds the container's memory limit in bytes: config/manager and the Helm chart
// set it from limits.memory through the downward API (resourceFieldRef).
const memoryLimitEnv = "MEMORY_LIMIT"

// softMemoryLimit is the Go runtime's soft memory limit the manager sets (debug.SetMemoryLimit):
// ratio of the container's memory limit (memoryLimit, MEMORY_LIMIT), so that the garbage collector
// works harder as the heap nears the limit instead of letting the kernel kill the pod. Headroom is
// left for what the runtime does not count (the binary's own pages, mapped from the image). It is 0,
// meaning leave the runtime alone, when GOMEMLIMIT is set (the runtime applied it already, and an
// explicit setting wins), when there is no memoryLimit, or when ratio is 0.
func softMemoryLimit(gomemlimit, memoryLimit string, ratio float64) (int64, error) {
	if ratio < 0 || ratio > 1 {
		return 0, fmt.Errorf("--memory-limit-ratio must be between 0 and 1, not %v", ratio)
	}
	if gomemlimit != "" || memoryLimit == "" || ratio == 0 {
		return 0, nil
	}
	q, err := resource.ParseQuantity(memoryLimit)
	if err != nil || q.Sign() <= 0 {
		return 0, fmt.Errorf("%s=%q is not a memory limit in bytes", memoryLimitEnv, memoryLimit)
	}
	return int64(float64(q.Value()) * ratio), nil
}

// defaultGCPercent is the garbage collector's pacing when GOGC is not set: the heap grows by 40%
// of its live size between collections instead of Go's default of all of it. With a thousand
// logins the live heap is about 15 to 20 MiB, so this keeps 8 to 12 MiB off the manager's peak
// memory, for more collector work only while work goes on: a manager with nothing due allocates
// nothing. The manager's CPU seconds in docs/performance.md did not move measurably from 100 to 50
// to 40.
const defaultGCPercent = 40

// gcPercent is the pacing the manager sets (debug.SetGCPercent), or ok false to leave the runtime
// alone because GOGC is set (gogcSet), which wins.
func gcPercent(gogcSet bool) (percent int, ok bool) {
	if gogcSet {
		return 0, false
	}
	return defaultGCPercent, true
}
