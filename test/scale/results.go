package main

import (
	"fmt"
	"time"
)

// results is everything one run measured. A figure whose phase did not run or did not finish
// stays at its zero value (nil slices and maps), and the report prints it as n/a, not met.
type results struct {
	N             int
	Commit        string
	Started       time.Time
	Elapsed       time.Duration
	LoadStart     string // /proc/loadavg at the start and the end: how busy the machine was
	LoadEnd       string
	Interval      time.Duration
	TokenLifetime time.Duration

	// Flows: N DeviceLogins and N naive flows side by side.
	Op, Naive        clientFigures
	NaiveErrors      int
	NaiveTokens      int
	CreateToUserCode []time.Duration
	Secrets          int // flows DeviceLogins whose token Secret appeared
	FlowsDuration    time.Duration
	FlowsRequests    requestCounts

	// Idle: nothing due, right after the flows.
	IdleWindow   time.Duration
	IdleRequests requestCounts

	// Pending: N more DeviceLogins whose codes nobody approves.
	PendingWindow   time.Duration
	PendingRequests requestCounts
	PendingCodes    int
	PendingTraffic  providerTraffic

	// Refresh: the flows' tokens refreshed once each.
	RefreshWindow         time.Duration
	RefreshRequests       requestCounts
	Refreshes             int // in the window
	RefreshGrants         int // tokens that should be refreshed
	RefreshedGrants       int
	RefreshBusiestWall    int
	RefreshBusiestAligned int

	// Memory and CPU of the manager process.
	RSSFlows, RSSPending, RSSRefresh uint64 // VmHWM per phase (reset between phases when possible)
	RSSReset                         bool   // whether the peak could be reset between phases
	RSSRestart, RSSRestartUnrelated  uint64
	UnrelatedSecrets                 int
	CPU                              []phaseCPU

	// Notes say what went wrong or what may have disturbed a figure.
	Notes []string
}

// phaseCPU is the manager's CPU seconds during one phase.
type phaseCPU struct {
	Phase   string
	Seconds float64
}

func (r *results) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}
