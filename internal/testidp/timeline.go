package testidp

import (
	"slices"
	"time"
)

// CodeTimeline is the life of one device code as the provider saw it, on the provider's clock:
// what latency benchmarks (test/scale) measure a client against. It never carries the device
// code or a token, so it can be printed.
type CodeTimeline struct {
	// UserCode is the code a person enters.
	UserCode string
	// Scope is the scope the client asked for, as sent (space-separated); benchmarks tell
	// their clients apart by it.
	Scope string
	// IssuedAt is when the device authorization response was made.
	IssuedAt time.Time
	// ApprovedAt is when Approve accepted the code; zero until then.
	ApprovedAt time.Time
	// FirstTokenAt is when the token endpoint answered the device code with tokens (a code is
	// answered with tokens once only); zero until then.
	FirstTokenAt time.Time
	// Polls counts the token requests that named the device code, answered or refused.
	Polls int
	// EarlyPolls counts the polls that came sooner than the interval and earned slow_down
	// (forced slow_down answers, ForceSlowDown, are not counted).
	EarlyPolls int
	// Refreshes are the times of the successful refresh-token answers for the grant this code
	// started, oldest first.
	Refreshes []time.Time
}

// timelineMarks are the timestamps a deviceGrant keeps for CodeTimelines.
type timelineMarks struct {
	approvedAt time.Time
	tokenAt    time.Time
	grant      int // the grant number its tokens carry; 0 until tokens were issued
	earlyPolls int
}

// noteRefreshLocked records a successful refresh of grant.
func (s *Server) noteRefreshLocked(grant int) {
	if s.refreshMarks == nil {
		s.refreshMarks = map[int][]time.Time{}
	}
	s.refreshMarks[grant] = append(s.refreshMarks[grant], s.clock.Now())
}

// CodeTimelines returns the timeline of every device code issued so far, in issue order.
func (s *Server) CodeTimelines() []CodeTimeline {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]CodeTimeline, 0, len(s.issuedDC))
	for _, dc := range s.issuedDC {
		g := s.devices[dc]
		tl := CodeTimeline{
			UserCode:     g.userCode,
			Scope:        g.scope,
			IssuedAt:     g.issuedAt,
			ApprovedAt:   g.marks.approvedAt,
			FirstTokenAt: g.marks.tokenAt,
			Polls:        g.polls,
			EarlyPolls:   g.marks.earlyPolls,
		}
		if g.marks.grant != 0 {
			tl.Refreshes = slices.Clone(s.refreshMarks[g.marks.grant])
		}
		out = append(out, tl)
	}
	return out
}
