package providersim

import (
	"slices"
	"time"
)

// Request is one request as the provider saw it, recorded as it arrives (before any fault or
// validation, so that retries against a broken provider can be counted) and completed with the
// answer. Parameter values are never recorded.
type Request struct {
	Endpoint   string // EndpointDevice, EndpointToken, ...
	Method     string
	Path       string
	GrantType  string // token endpoint only
	Accept     string // the Accept header
	ClientAuth string // AuthNone, AuthBasic, AuthPost or AuthBoth
	Params     []string
	Status     int    // HTTP status answered; 0 for a fault or an answer still being written
	Error      string // the OAuth error code answered; "" for a success
	Fault      Fault  // the fault that answered it, FaultNone if served
	Time       time.Time
}

// Poll is one token request for a device code, and what it was answered.
type Poll struct {
	Time time.Time
	// Answer is the error code, or "token" when tokens were issued.
	Answer string
	// Status is the HTTP status of the answer.
	Status int
}

// CodeInfo describes one device authorization for tests. It carries no device code, so it can be
// printed; AccessToken and RefreshToken are the only secrets in it.
type CodeInfo struct {
	UserCode  string
	Scope     string
	State     CodeState
	Interval  time.Duration // enforced now (slow_down raises it)
	IssuedAt  time.Time
	ExpiresAt time.Time
	// ApprovedAt is when Approve accepted the code; zero until then.
	ApprovedAt time.Time
	// Polls are the token requests that named the code, answered or refused, in order.
	Polls []Poll
	// ForcedSlowDowns counts the slow_down answers ForceSlowDown owed; EarnedSlowDown those the
	// client earned by polling early.
	ForcedSlowDowns, EarnedSlowDown int
	// AccessToken and RefreshToken are what the approval issued ("" before, and RefreshToken ""
	// when the provider issued none).
	AccessToken, RefreshToken string
	// Refreshes are when the tokens the approval started were refreshed, oldest first.
	Refreshes []time.Time
}

// Pending says whether a person could still act on the code at now.
func (c CodeInfo) Pending(now time.Time) bool {
	return c.State == CodePending && now.Before(c.ExpiresAt)
}

// Code describes the device authorization behind a user code (as typed: case, dashes and spaces
// do not matter).
func (s *Server) Code(userCode string) (CodeInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.grantLocked(userCode)
	if err != nil {
		return CodeInfo{}, false
	}
	return s.infoLocked(g), true
}

func (s *Server) infoLocked(g *grant) CodeInfo {
	info := CodeInfo{
		UserCode: g.userCode, Scope: g.scope, State: g.state, Interval: g.interval,
		IssuedAt: g.issuedAt, ExpiresAt: g.expiresAt, ApprovedAt: g.approvedAt,
		Polls:           slices.Clone(g.polls),
		ForcedSlowDowns: g.forcedSent, EarnedSlowDown: g.earned,
		AccessToken: g.access, RefreshToken: g.refresh,
	}
	if g.family != 0 {
		info.Refreshes = slices.Clone(s.refreshed[g.family])
	}
	return info
}

// UserCodes lists the user codes issued, in order. Code tells where each stands; Now is the
// provider's clock, for CodeInfo.Pending.
func (s *Server) UserCodes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.order))
	for _, g := range s.order {
		out = append(out, g.userCode)
	}
	return out
}

// Now is the time on the provider's clock.
func (s *Server) Now() time.Time { return s.clock.Now() }

// SlowDowns counts the slow_down answers sent so far, forced or earned by early polls, over every
// code. A client that never polls early earns none.
func (s *Server) SlowDowns() int {
	earned, forced := s.slowDowns()
	return earned + forced
}

// EarnedSlowDowns counts the slow_down answers the client earned by polling early, over every code.
func (s *Server) EarnedSlowDowns() int {
	earned, _ := s.slowDowns()
	return earned
}

func (s *Server) slowDowns() (earned, forced int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.order {
		earned, forced = earned+g.earned, forced+g.forcedSent
	}
	return earned, forced
}

// IsAccessTokenValid says whether a resource server would accept the token now.
func (s *Server) IsAccessTokenValid(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.validAccessLocked(tok)
	return ok
}

// IsRefreshTokenValid says whether the token endpoint would take the refresh token now.
func (s *Server) IsRefreshTokenValid(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refresh[tok]
	return ok && s.usableLocked(rt)
}

// Requests returns every request received, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Count counts the requests to one endpoint, faulted or not; with a grant type, only the token
// requests of that grant.
func (s *Server) Count(endpoint string, grantType ...string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Endpoint == endpoint && (len(grantType) == 0 || r.GrantType == grantType[0]) {
			n++
		}
	}
	return n
}

// Polls counts the token requests of the device grant, faulted or not: the number a polling
// loop's pace is judged by.
func (s *Server) Polls() int { return s.Count(EndpointToken, DeviceGrantType) }

// UsedRefreshTokens lists the refresh tokens presented to the token endpoint, in order.
func (s *Server) UsedRefreshTokens() []string { return s.list(&s.used) }

// Revoked lists every token value submitted for revocation, in order, including ones the provider
// did not know, so that tests can check that a client cleaned up.
func (s *Server) Revoked() []string { return s.list(&s.revoked) }

// DeviceCodes lists every device code issued, in order (a device code is a bearer secret until
// it is spent).
func (s *Server) DeviceCodes() []string { return s.list(&s.issued.deviceCodes) }

// AccessTokens lists every access token issued, in order.
func (s *Server) AccessTokens() []string { return s.list(&s.issued.access) }

// RefreshTokens lists every refresh token issued, in order.
func (s *Server) RefreshTokens() []string { return s.list(&s.issued.refresh) }

// IDTokens lists every ID token issued, in order.
func (s *Server) IDTokens() []string { return s.list(&s.issued.idTokens) }

// ClientSecret is the client secret the provider expects, "" for a public client.
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

// Secrets lists every device code, access, refresh and ID token issued, and the client secret,
// for scans that must not find them in logs, events or status.
func (s *Server) Secrets() []string {
	out := slices.Concat(s.DeviceCodes(), s.AccessTokens(), s.RefreshTokens(), s.IDTokens())
	if c := s.ClientSecret(); c != "" {
		out = append(out, c)
	}
	return out
}

// list copies one of the server's lists under the lock.
func (s *Server) list(l *[]string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(*l)
}
