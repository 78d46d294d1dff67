package providersim

import (
	"fmt"
	"time"
)

// decideLocked finds a code still waiting for the person's decision.
func (s *Server) decideLocked(userCode string) (*grant, error) {
	g, ok := s.userCodes[userCode]
	switch {
	case !ok:
		return nil, fmt.Errorf("providersim: unknown user code %q", userCode)
	case !time.Now().Before(g.expiresAt):
		return nil, fmt.Errorf("providersim: user code %q expired", userCode)
	case g.state != statePending:
		return nil, fmt.Errorf("providersim: user code %q already decided", userCode)
	}
	return g, nil
}

// newGrantLocked records a device authorization. deviceCode and userCode are the provider's own
// formats.
func (s *Server) newGrantLocked(deviceCode, userCode, scope string) *grant {
	now := time.Now()
	g := &grant{
		deviceCode: deviceCode, userCode: userCode, scope: scope,
		issuedAt: now, expiresAt: now.Add(s.opts.CodeLifetime), interval: s.opts.Interval,
	}
	s.grants[deviceCode] = g
	s.userCodes[userCode] = g
	s.order = append(s.order, userCode)
	s.secrets = append(s.secrets, deviceCode)
	return g
}

// outcome is what a device-code poll comes to, before a provider dresses it in its own shape.
type outcome string

const (
	outUnknown  outcome = "unknown"
	outExpired  outcome = "expired"
	outSlowDown outcome = "slow_down"
	outPending  outcome = "pending"
	outDenied   outcome = "denied"
	outApproved outcome = "approved"
)

// pollLocked applies RFC 8628's polling rules to one poll: unknown or spent code, expiry, the
// interval (an early poll earns slow_down and raises it by SlowDownStep), a forced slow_down, then
// the person's decision. Sentry applies its window before this and skips the interval.
func (s *Server) pollLocked(deviceCode string, checkInterval bool) (*grant, outcome) {
	g, ok := s.grants[deviceCode]
	if !ok || g.consumed {
		return nil, outUnknown
	}
	now := time.Now()
	if !now.Before(g.expiresAt) {
		return g, outExpired
	}
	prev := g.lastPoll
	g.lastPoll = now
	if checkInterval && !prev.IsZero() && now.Sub(prev)+pollLeeway < g.interval {
		g.earned++
		g.interval += s.opts.SlowDownStep
		return g, outSlowDown
	}
	if g.forced > 0 {
		g.forced--
		g.forcedSent++
		if s.provider != Sentry {
			g.interval += s.opts.SlowDownStep
		}
		return g, outSlowDown
	}
	switch g.state {
	case statePending:
		return g, outPending
	case stateDenied:
		return g, outDenied
	}
	g.consumed = true
	return g, outApproved
}

// notePoll records a poll's answer on its grant.
func (s *Server) notePoll(g *grant, answer string, status int) {
	if g == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g.polls = append(g.polls, Poll{Time: time.Now(), Answer: answer, Status: status})
}

// issueLocked mints an access token (and a refresh token when withRefresh) for a family; family 0
// starts a new one. A lifetime of 0 makes an access token that never expires.
func (s *Server) issueLocked(family int, u User, scope string, lifetime time.Duration, access, refresh string) int {
	if family == 0 {
		s.families++
		family = s.families
	}
	at := &accessToken{family: family, user: u, scope: scope}
	if lifetime > 0 {
		at.expiresAt = time.Now().Add(lifetime)
	}
	s.access[access] = at
	s.secrets = append(s.secrets, access)
	if refresh != "" {
		s.refresh[refresh] = &refreshToken{family: family, user: u, scope: scope}
		s.secrets = append(s.secrets, refresh)
	}
	return family
}

// revokeFamilyLocked ends every token of a family (Sentry's answer to a replayed refresh token).
func (s *Server) revokeFamilyLocked(family int) {
	for _, at := range s.access {
		if at.family == family {
			at.revoked = true
		}
	}
	for _, rt := range s.refresh {
		if rt.family == family {
			rt.revoked = true
		}
	}
}

// revokeAccessLocked ends the access tokens of a family (providers whose refresh replaces them).
func (s *Server) revokeAccessLocked(family int) {
	for _, at := range s.access {
		if at.family == family {
			at.revoked = true
		}
	}
}

// noteSecretLocked remembers a value for Secrets (ID tokens and the like).
func (s *Server) noteSecretLocked(v string) { s.secrets = append(s.secrets, v) }
