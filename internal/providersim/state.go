package providersim

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// User is who approves a code.
type User struct {
	ID, Name, Email, Login string
}

// CodeState is where a device code stands with the person.
type CodeState string

// The states of a device code.
const (
	CodePending  CodeState = "pending"
	CodeApproved CodeState = "approved"
	CodeDenied   CodeState = "denied"
)

// grant is one device authorization.
type grant struct {
	deviceCode, userCode string
	scope                string
	issuedAt, expiresAt  time.Time
	interval             time.Duration // enforced now; slow_down raises it
	lastPoll             time.Time     // zero until the first poll
	state                CodeState
	approvedAt           time.Time
	user                 User
	consumed             bool // tokens were handed out; the code is spent
	forced               int  // slow_down answers owed to this code's next polls
	forcedSent, earned   int
	polls                []Poll
	family               int // of the tokens it gave; 0 before
	access, refresh      string
}

// accessToken and refreshToken belong to a family: the tokens of one approval and its refreshes.
type accessToken struct {
	family    int
	user      User
	scope     string
	expiresAt time.Time // zero: never expires
	expired   bool      // forced by ExpireAccessTokens
	revoked   bool
}

type refreshToken struct {
	family  int
	user    User
	scope   string
	rotated bool // used once; a provider that rotates refuses it from then on
	revoked bool
}

// issued lists every secret value handed out, by kind, in order (for leak scans).
type issued struct{ deviceCodes, access, refresh, idTokens []string }

// canonicalCode is a user code as a person might type it, folded: upper case, no dashes or
// spaces (RFC 8628 section 6.1). Codes are kept and looked up by it.
func canonicalCode(in string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		return r
	}, strings.ToUpper(in))
}

// userCodeLocked draws an unused user code with gen.
func (s *Server) userCodeLocked(gen func() string) string {
	for {
		if c := gen(); s.userCodes[canonicalCode(c)] == nil {
			return c
		}
	}
}

// newGrantLocked records a device authorization. deviceCode and userCode are the provider's own
// formats.
func (s *Server) newGrantLocked(deviceCode, userCode, scope string) *grant {
	now := s.clock.Now()
	g := &grant{
		deviceCode: deviceCode, userCode: userCode, scope: scope, state: CodePending,
		issuedAt: now, expiresAt: now.Add(s.opts.CodeLifetime), interval: s.baseInterval(),
	}
	s.grants[deviceCode] = g
	s.userCodes[canonicalCode(userCode)] = g
	s.order = append(s.order, g)
	s.issued.deviceCodes = append(s.issued.deviceCodes, deviceCode)
	return g
}

// baseInterval is the interval enforced for a new code: Options.Interval, or the 5 s RFC 8628
// obliges a client to use when the answer omits it.
func (s *Server) baseInterval() time.Duration {
	if s.opts.OmitInterval {
		return 5 * time.Second
	}
	return s.opts.Interval
}

// decideLocked finds a code still waiting for the person's decision.
func (s *Server) decideLocked(userCode string) (*grant, error) {
	g, ok := s.userCodes[canonicalCode(userCode)]
	switch {
	case !ok:
		return nil, fmt.Errorf("providersim: unknown user code %q", userCode)
	case !s.clock.Now().Before(g.expiresAt):
		return nil, fmt.Errorf("providersim: user code %q expired", userCode)
	case g.state != CodePending:
		return nil, fmt.Errorf("providersim: user code %q already decided", userCode)
	}
	return g, nil
}

// grantLocked finds the code behind a user code, whatever its state.
func (s *Server) grantLocked(userCode string) (*grant, error) {
	g, ok := s.userCodes[canonicalCode(userCode)]
	if !ok {
		return nil, fmt.Errorf("providersim: unknown user code %q", userCode)
	}
	return g, nil
}

// errNoEmail refuses an approval that names nobody.
var errNoEmail = errors.New("providersim: approving needs the email of who approves")

// outcome is what a device-code poll comes to, before a dialect dresses it in its own shape.
type outcome string

const (
	outUnknown  outcome = "unknown" // an unknown code, or a spent one (then with its grant)
	outExpired  outcome = "expired"
	outSlowDown outcome = "slow_down"
	outPending  outcome = "pending"
	outDenied   outcome = "denied"
	outApproved outcome = "approved"
)

// pollLocked applies RFC 8628's polling rules to one poll: unknown or spent code, expiry, the
// interval (an early poll earns slow_down and raises it by SlowDownStep), a forced slow_down, then
// the person's decision. slow_down is decided before the decision is looked at: a client that
// polls too fast is told so even when the person has answered. Sentry applies its window before
// this and skips the interval.
func (s *Server) pollLocked(deviceCode string, checkInterval bool) (*grant, outcome) {
	g, ok := s.grants[deviceCode]
	if !ok {
		return nil, outUnknown
	}
	if g.consumed {
		return g, outUnknown
	}
	now := s.clock.Now()
	if !now.Before(g.expiresAt) {
		return g, outExpired
	}
	prev := g.lastPoll
	if prev.IsZero() && s.opts.FirstPollWait {
		prev = g.issuedAt
	}
	g.lastPoll = now
	if checkInterval && !prev.IsZero() && now.Sub(prev)+s.opts.PollLeeway < g.interval {
		g.earned++
		g.interval += s.opts.SlowDownStep
		return g, outSlowDown
	}
	if g.forced > 0 || s.forcedAny > 0 {
		if g.forced > 0 {
			g.forced--
		} else {
			s.forcedAny--
		}
		g.forcedSent++
		if s.provider != Sentry { // Sentry keeps its window
			g.interval += s.opts.SlowDownStep
		}
		return g, outSlowDown
	}
	switch g.state {
	case CodePending:
		return g, outPending
	case CodeDenied:
		return g, outDenied
	}
	g.consumed = true
	return g, outApproved
}

// pollGrant runs pollLocked under the lock and, for an approved code, issue for its tokens.
func (s *Server) pollGrant(deviceCode string, issue func(*grant) body) (*grant, outcome, body) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, out := s.pollLocked(deviceCode, true)
	if out != outApproved {
		return g, out, nil
	}
	return g, out, issue(g)
}

// notePoll records a poll's answer on its code.
func (s *Server) notePoll(g *grant, answer string, status int) {
	if g == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g.polls = append(g.polls, Poll{Time: s.clock.Now(), Answer: answer, Status: status})
}

// issueLocked mints the tokens for g into a family: family 0 starts a new one (an approval); any
// other is a refresh of it. A lifetime of 0 makes an access token that never expires; refresh ""
// issues none. g of a refresh is a stand-in carrying the family's user and the scope.
func (s *Server) issueLocked(g *grant, family int, lifetime time.Duration, access, refresh string) {
	now := s.clock.Now()
	if family == 0 {
		s.families++
		family = s.families
	} else {
		s.refreshed[family] = append(s.refreshed[family], now)
	}
	at := &accessToken{family: family, user: g.user, scope: g.scope}
	if lifetime > 0 {
		at.expiresAt = now.Add(lifetime)
	}
	s.access[access] = at
	s.issued.access = append(s.issued.access, access)
	if refresh != "" {
		s.refresh[refresh] = &refreshToken{family: family, user: g.user, scope: g.scope}
		s.issued.refresh = append(s.issued.refresh, refresh)
	}
	g.family, g.access, g.refresh = family, access, refresh
}

// presentRefreshLocked records a refresh token presented to the token endpoint and returns it,
// with whether the provider would take it now.
func (s *Server) presentRefreshLocked(rt string) (*refreshToken, bool) {
	s.used = append(s.used, rt)
	old, ok := s.refresh[rt]
	return old, ok && s.usableLocked(old)
}

// usableLocked says whether a refresh token may be used: not revoked, and not already used at a
// provider whose rotation kills the old token (Entra keeps it valid; Google and RFC without
// rotation never mark it).
func (s *Server) usableLocked(rt *refreshToken) bool {
	return !rt.revoked && (!rt.rotated || s.provider == Microsoft)
}

// standIn is the grant a refresh issues into: the family's user, and scope.
func standIn(old *refreshToken, scope string) *grant { return &grant{user: old.user, scope: scope} }

// revokeLocked is RFC 7009 for one token value, as every dialect with revocation does it: an
// access token dies alone, a refresh token takes its whole family with it (section 2.1). The
// value is recorded whether or not it was known.
func (s *Server) revokeLocked(tok string) (known bool) {
	s.revoked = append(s.revoked, tok)
	if at, ok := s.access[tok]; ok {
		at.revoked = true
		known = true
	}
	if rt, ok := s.refresh[tok]; ok {
		s.revokeFamilyLocked(rt.family)
		known = true
	}
	return known
}

// revokeFamilyLocked ends every token of a family (Sentry's answer to a replayed refresh token).
func (s *Server) revokeFamilyLocked(family int) {
	s.revokeAccessLocked(family)
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

// validAccessLocked returns an access token a resource server would accept now.
func (s *Server) validAccessLocked(tok string) (*accessToken, bool) {
	at, ok := s.access[tok]
	if !ok || at.revoked || at.expired || (!at.expiresAt.IsZero() && !s.clock.Now().Before(at.expiresAt)) {
		return nil, false
	}
	return at, true
}

// noteIDTokenLocked remembers an ID token for the leak scans.
func (s *Server) noteIDTokenLocked(v string) { s.issued.idTokens = append(s.issued.idTokens, v) }
