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

// CodeTimelines returns the timeline of every device code issued so far, in issue order.
func (s *Server) CodeTimelines() []CodeTimeline {
	var out []CodeTimeline
	for _, uc := range s.UserCodes() {
		c, _ := s.Code(uc)
		tl := CodeTimeline{UserCode: uc, Scope: c.Scope, IssuedAt: c.IssuedAt, ApprovedAt: c.ApprovedAt,
			Polls: len(c.Polls), EarlyPolls: c.EarnedSlowDown, Refreshes: slices.Clone(c.Refreshes)}
		for _, p := range c.Polls {
			if p.Answer == "token" {
				tl.FirstTokenAt = p.Time
			}
		}
		out = append(out, tl)
	}
	return out
}
