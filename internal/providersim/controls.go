package providersim

import (
	"fmt"
	"strings"
	"time"
)

// Approve plays the person who enters the user code and consents; the next timely poll gets
// tokens for a user with this email.
func (s *Server) Approve(userCode, email string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.decideLocked(userCode)
	if err != nil {
		return err
	}
	s.users++
	login, _, _ := strings.Cut(email, "@")
	name := login
	if name != "" {
		name = strings.ToUpper(name[:1]) + name[1:]
	}
	g.state, g.user = stateApproved, User{ID: fmt.Sprint(s.users), Name: name, Email: email, Login: login}
	return nil
}

// Deny plays the person who refuses consent.
func (s *Server) Deny(userCode string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.decideLocked(userCode)
	if err != nil {
		return err
	}
	g.state = stateDenied
	return nil
}

// Expire makes a device code expire now, as if its lifetime had run out.
func (s *Server) Expire(userCode string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.userCodes[userCode]
	if !ok {
		return fmt.Errorf("providersim: unknown user code %q", userCode)
	}
	g.expiresAt = time.Now().Add(-time.Millisecond)
	return nil
}

// ForceSlowDown answers the next n polls of this code with slow_down, as a busy provider may,
// however well the client keeps to the interval. Each raises the code's interval as an earned one
// does (not Sentry's, which keeps its window).
func (s *Server) ForceSlowDown(userCode string, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.userCodes[userCode]
	if !ok {
		return fmt.Errorf("providersim: unknown user code %q", userCode)
	}
	g.forced += n
	return nil
}

// RevokeRefreshTokens plays the person who revokes the application's access: every refresh token
// and access token issued so far stops working.
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

// Code describes the device authorization behind a user code.
func (s *Server) Code(userCode string) (CodeInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.userCodes[userCode]
	if !ok {
		return CodeInfo{}, false
	}
	return CodeInfo{
		Scope: g.scope, Interval: g.interval, ExpiresAt: g.expiresAt,
		Polls:           append([]Poll(nil), g.polls...),
		ForcedSlowDowns: g.forcedSent, EarnedSlowDown: g.earned,
		AccessToken: g.access, RefreshToken: g.refresh,
	}, true
}

// UserCodes lists the user codes issued, in order.
func (s *Server) UserCodes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.order...)
}

// EarnedSlowDowns counts the slow_down answers the client earned by polling early, over every code.
func (s *Server) EarnedSlowDowns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, g := range s.userCodes {
		n += g.earned
	}
	return n
}

// IsAccessTokenValid says whether a resource server would accept the token now.
func (s *Server) IsAccessTokenValid(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.access[tok]
	return ok && !at.revoked && (at.expiresAt.IsZero() || time.Now().Before(at.expiresAt))
}

// IsRefreshTokenValid says whether the token endpoint would take the refresh token now.
func (s *Server) IsRefreshTokenValid(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refresh[tok]
	return ok && s.usableLocked(rt)
}

// usableLocked says whether a refresh token may be used: not revoked, and not already used at a
// provider whose rotation kills the old token (Sentry, GitHub, GitLab; Entra keeps it valid and
// Google does not rotate).
func (s *Server) usableLocked(rt *refreshToken) bool {
	return !rt.revoked && (!rt.rotated || s.provider == Microsoft)
}

// UsedRefreshTokens lists the refresh tokens presented to the token endpoint, in order.
func (s *Server) UsedRefreshTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.used...)
}

// Requests returns every request received, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Count counts the requests to one endpoint; for EndpointToken, grantType "" counts every grant.
func (s *Server) Count(endpoint, grantType string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Endpoint == endpoint && (grantType == "" || r.GrantType == grantType) {
			n++
		}
	}
	return n
}

// Secrets lists every device code, access, refresh and ID token issued, and the client secret,
// for scans that must not find them in logs, events or status.
func (s *Server) Secrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]string(nil), s.secrets...)
	if s.opts.ClientSecret != "" {
		out = append(out, s.opts.ClientSecret)
	}
	return out
}
