package providersim

import (
	"fmt"
	"strings"
	"time"
)

// AnyCode names no code in particular: ForceSlowDown(AnyCode, n) answers the next n polls of
// whichever codes are polled.
const AnyCode = ""

// Approve plays the person who enters the user code (as typed: case, dashes and spaces do not
// matter) and consents; the next timely poll gets tokens for a user with this email.
func (s *Server) Approve(userCode, email string) error {
	if email == "" {
		return errNoEmail
	}
	return s.decide(userCode, func(g *grant) {
		s.users++
		login, _, _ := strings.Cut(email, "@")
		name := login
		if name != "" {
			name = strings.ToUpper(name[:1]) + name[1:]
		}
		g.state, g.approvedAt = CodeApproved, s.clock.Now()
		g.user = User{ID: fmt.Sprint(s.users), Name: name, Email: email, Login: login}
	})
}

// Deny plays the person who refuses consent.
func (s *Server) Deny(userCode string) error {
	return s.decide(userCode, func(g *grant) { g.state = CodeDenied })
}

// decide applies a person's decision to a code still waiting for one.
func (s *Server) decide(userCode string, apply func(*grant)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.decideLocked(userCode)
	if err == nil {
		apply(g)
	}
	return err
}

// Expire makes a device code expire now, as if its lifetime had run out.
func (s *Server) Expire(userCode string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.grantLocked(userCode)
	if err != nil {
		return err
	}
	g.expiresAt = s.clock.Now().Add(-time.Millisecond)
	return nil
}

// ForceSlowDown answers the next n polls of this code (of any code, for AnyCode) with slow_down,
// as a busy provider may, however well the client keeps to the interval. Each raises the code's
// interval as an earned one does (not Sentry's, which keeps its window).
func (s *Server) ForceSlowDown(userCode string, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if userCode == AnyCode {
		s.forcedAny += n
		return nil
	}
	g, err := s.grantLocked(userCode)
	if err != nil {
		return err
	}
	g.forced += n
	return nil
}

// RevokeRefreshTokens plays the person who revokes the application's access, or the provider
// dropping every session (a password change, an admin's action): every refresh token and access
// token issued so far stops working.
func (s *Server) RevokeRefreshTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rt := range s.refresh {
		rt.revoked = true
	}
	for _, at := range s.access {
		at.revoked = true
	}
}

// ExpireAccessTokens ends every access token issued so far without moving the clock, as if
// their lifetimes had run out; refresh tokens stay valid.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, at := range s.access {
		at.expired = true
	}
}
