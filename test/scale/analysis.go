package main

import (
	"time"

	"github.com/devicelogin-dev/devicelogin-operator/internal/testidp"
)

// clientFigures are one client's figures from the flows phase, from the provider's timelines
// and the times the client had its tokens in hand.
type clientFigures struct {
	// Codes counts the codes the client asked for.
	Codes int
	// Excess is, per code answered with tokens, the time from the RFC floor to the token answer.
	Excess []time.Duration
	// ApprovalToToken is, per code, the time from approval to the token in hand.
	ApprovalToToken []time.Duration
	// Unmatched counts approved codes whose token in hand was not seen.
	Unmatched int
	// Polls and EarlyPolls sum the token requests, and those that earned slow_down.
	Polls, EarlyPolls int
}

// clientFiguresFrom reads the timelines of scope's codes; inHand maps a user code to when the
// client had the token in hand.
func clientFiguresFrom(tls []testidp.CodeTimeline, scope string, interval time.Duration, inHand map[string]time.Time) clientFigures {
	var f clientFigures
	for _, tl := range tls {
		if tl.Scope != scope {
			continue
		}
		f.Codes++
		f.Polls += tl.Polls
		f.EarlyPolls += tl.EarlyPolls
		if tl.ApprovedAt.IsZero() {
			continue
		}
		if !tl.FirstTokenAt.IsZero() {
			f.Excess = append(f.Excess, tl.FirstTokenAt.Sub(rfcFloor(tl.IssuedAt, tl.ApprovedAt, interval)))
		}
		if at, ok := inHand[tl.UserCode]; ok {
			f.ApprovalToToken = append(f.ApprovalToToken, at.Sub(tl.ApprovedAt))
		} else {
			f.Unmatched++
		}
	}
	return f
}

// refreshTimes are, for scope's grants, the first refresh on the wall clock, and the same
// aligned as if every token had been issued at one instant (first refresh minus token answer,
// counted from the zero time): what the jitter alone makes of tokens issued together.
func refreshTimes(tls []testidp.CodeTimeline, scope string) (wall, aligned []time.Time) {
	for _, tl := range tls {
		if tl.Scope != scope || tl.FirstTokenAt.IsZero() || len(tl.Refreshes) == 0 {
			continue
		}
		wall = append(wall, tl.Refreshes[0])
		aligned = append(aligned, time.Time{}.Add(tl.Refreshes[0].Sub(tl.FirstTokenAt)))
	}
	return wall, aligned
}

// grantsOf counts scope's codes that were answered with tokens, and those refreshed since.
func grantsOf(tls []testidp.CodeTimeline, scope string) (granted, refreshed int) {
	for _, tl := range tls {
		if tl.Scope == scope && !tl.FirstTokenAt.IsZero() {
			granted++
			if len(tl.Refreshes) > 0 {
				refreshed++
			}
		}
	}
	return granted, refreshed
}

// refreshesBetween counts scope's successful refreshes in [from, to].
func refreshesBetween(tls []testidp.CodeTimeline, scope string, from, to time.Time) int {
	n := 0
	for _, tl := range tls {
		if tl.Scope != scope {
			continue
		}
		for _, r := range tl.Refreshes {
			if !r.Before(from) && !r.After(to) {
				n++
			}
		}
	}
	return n
}

// providerTraffic counts what reached the provider in [from, to]: device-grant polls, refreshes
// and device authorizations (new codes).
type providerTraffic struct{ Polls, Refreshes, NewCodes int }

func trafficBetween(reqs []testidp.Request, from, to time.Time) providerTraffic {
	var t providerTraffic
	for _, r := range reqs {
		if r.Time.Before(from) || r.Time.After(to) {
			continue
		}
		switch {
		case r.Endpoint == testidp.EndpointToken && r.GrantType == testidp.DeviceGrantType:
			t.Polls++
		case r.Endpoint == testidp.EndpointToken && r.GrantType == "refresh_token":
			t.Refreshes++
		case r.Endpoint == testidp.EndpointDevice:
			t.NewCodes++
		}
	}
	return t
}
