package testidp

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DeviceGrantType is the RFC 8628 grant_type value.
const DeviceGrantType = "urn:ietf:params:oauth:grant-type:device_code"

type accessToken struct {
	grant     int // tokens from one authorization share it (RFC 7009 2.1)
	subject   string
	scope     string
	expiresAt time.Time // zero with NoExpiry
	expired   bool      // forced by ExpireAccessTokens
	revoked   bool
}

type refreshToken struct {
	grant   int
	subject string
	scope   string
	invalid bool // rotated, revoked or invalidated
}

// handleToken is the RFC 6749 3.2 token endpoint.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	form, ok := parsePostForm(w, r)
	if !ok {
		return
	}
	if e := s.authenticateClient(r, form); e != nil {
		writeError(w, e)
		return
	}
	var (
		resp map[string]any
		e    *oauthError
	)
	switch gt := form.Get("grant_type"); gt {
	case "":
		e = badRequest("invalid_request", "grant_type missing")
	case DeviceGrantType:
		resp, e = s.deviceGrant(form)
	case "refresh_token":
		resp, e = s.refreshGrant(form)
	default:
		e = badRequest("unsupported_grant_type", "grant_type "+gt+" not supported")
	}
	if e != nil {
		writeError(w, e)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// deviceGrant is RFC 8628 3.4/3.5. slow_down is decided before the user's
// decision is looked at: a client that polls too fast is told so even if
// the user has already answered, which is what catches a sloppy loop.
func (s *Server) deviceGrant(form url.Values) (map[string]any, *oauthError) {
	dc := form.Get("device_code")
	if dc == "" {
		return nil, badRequest("invalid_request", "device_code missing")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.devices[dc]
	if !ok {
		return nil, badRequest("invalid_grant", "unknown device_code")
	}
	g.polls++
	if g.consumed {
		return nil, badRequest("invalid_grant", "device_code already used")
	}
	now := s.clock.Now()
	if !now.Before(g.expiresAt) {
		return nil, badRequest("expired_token", "device_code expired")
	}
	prev := g.lastPoll
	if prev.IsZero() && s.opts.FirstPollWait {
		prev = g.issuedAt
	}
	g.lastPoll = now
	if !prev.IsZero() && now.Sub(prev)+s.opts.PollLeeway < g.interval {
		g.interval += 5 * time.Second
		s.slowDownsSent++
		g.marks.earlyPolls++
		return nil, badRequest("slow_down", "polling faster than the interval")
	}
	if s.slowDowns > 0 {
		// A forced slow_down raises the interval as an earned one does (RFC 8628 3.5).
		s.slowDowns--
		s.slowDownsSent++
		g.interval += 5 * time.Second
		return nil, badRequest("slow_down", "the server is busy")
	}
	switch g.state {
	case statePending:
		return nil, badRequest("authorization_pending", "the user has not answered yet")
	case stateDenied:
		return nil, badRequest("access_denied", "the user denied the request")
	}
	g.consumed = true
	s.nextGrant++
	g.marks.tokenAt, g.marks.grant = now, s.nextGrant
	return s.issueLocked(s.nextGrant, g.subject, g.scope, g.scope, true), nil
}

// refreshGrant is RFC 6749 6. A narrower scope is granted; a wider one is
// invalid_scope, as the RFC requires.
func (s *Server) refreshGrant(form url.Values) (map[string]any, *oauthError) {
	rt := form.Get("refresh_token")
	if rt == "" {
		return nil, badRequest("invalid_request", "refresh_token missing")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.refresh[rt]
	if !ok || old.invalid {
		return nil, badRequest("invalid_grant", "refresh token invalid, revoked or already used")
	}
	scope := old.scope
	if req := form.Get("scope"); req != "" {
		if !scopeSubset(req, old.scope) {
			return nil, badRequest("invalid_scope", "scope exceeds the original grant")
		}
		scope = req
	}
	rotate := !s.opts.NoRotation
	if rotate {
		old.invalid = true
	}
	s.noteRefreshLocked(old.grant)
	return s.issueLocked(old.grant, old.subject, scope, old.scope, rotate), nil
}

// issueLocked mints an access token (and a refresh token when newRefresh)
// and builds the RFC 6749 5.1 response.
func (s *Server) issueLocked(grant int, subject, scope, refreshScope string, newRefresh bool) map[string]any {
	now := s.clock.Now()
	at := randomToken()
	tok := &accessToken{grant: grant, subject: subject, scope: scope}
	resp := map[string]any{"access_token": at, "token_type": "Bearer"}
	if !s.opts.NoExpiry {
		tok.expiresAt = now.Add(s.opts.TokenLifetime)
		resp["expires_in"] = int64(s.opts.TokenLifetime.Round(time.Second) / time.Second)
	}
	s.access[at] = tok
	s.issuedAT = append(s.issuedAT, at)

	if newRefresh && !s.opts.NoRefreshToken {
		rt := randomToken()
		s.refresh[rt] = &refreshToken{grant: grant, subject: subject, scope: refreshScope}
		s.issuedRT = append(s.issuedRT, rt)
		resp["refresh_token"] = rt
	}
	if scope != "" {
		resp["scope"] = scope
	}
	if s.opts.OIDC && hasScope(scope, "openid") {
		resp["id_token"] = s.signIDToken(subject, now)
	}
	return resp
}

// handleRevoke is RFC 7009. Unknown tokens are a success: the client's goal
// (the token is unusable) is met, and answering otherwise would leak which
// tokens exist.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	form, ok := parsePostForm(w, r)
	if !ok {
		return
	}
	if e := s.authenticateClient(r, form); e != nil {
		writeError(w, e)
		return
	}
	tok := form.Get("token")
	if tok == "" {
		writeError(w, badRequest("invalid_request", "token missing"))
		return
	}
	s.mu.Lock()
	s.revoked = append(s.revoked, tok)
	if at, ok := s.access[tok]; ok {
		at.revoked = true
	}
	if rt, ok := s.refresh[tok]; ok {
		rt.invalid = true
		// RFC 7009 2.1: revoking a refresh token kills its access tokens.
		for _, at := range s.access {
			if at.grant == rt.grant {
				at.revoked = true
			}
		}
	}
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

func hasScope(scope, want string) bool {
	for _, s := range strings.Fields(scope) {
		if s == want {
			return true
		}
	}
	return false
}

func scopeSubset(req, granted string) bool {
	for _, s := range strings.Fields(req) {
		if !hasScope(granted, s) {
			return false
		}
	}
	return true
}

// InvalidateRefreshTokens simulates the provider dropping every session
// (password change, admin action): refreshes then fail with invalid_grant.
func (s *Server) InvalidateRefreshTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rt := range s.refresh {
		rt.invalid = true
	}
}

// ExpireAccessTokens ends every access token issued so far without moving
// the clock, to test the client's reaction to a 401 from userinfo.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, at := range s.access {
		at.expired = true
	}
}

// IsAccessTokenValid says whether a resource server would accept tok now.
func (s *Server) IsAccessTokenValid(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.validAccessLocked(tok)
	return ok
}

func (s *Server) validAccessLocked(tok string) (*accessToken, bool) {
	at, ok := s.access[tok]
	if !ok || at.revoked || at.expired {
		return nil, false
	}
	if !at.expiresAt.IsZero() && !s.clock.Now().Before(at.expiresAt) {
		return nil, false
	}
	return at, true
}

// IsRefreshTokenValid says whether tok would be accepted by the refresh
// grant now.
func (s *Server) IsRefreshTokenValid(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refresh[tok]
	return ok && !rt.invalid
}

// AccessTokens lists every access token ever issued, in order, so tests can
// scan logs, events and objects for leaked secrets.
func (s *Server) AccessTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issuedAT...)
}

// RefreshTokens lists every refresh token ever issued, in order (for leak
// scans).
func (s *Server) RefreshTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issuedRT...)
}

// DeviceCodes lists every device code ever issued, in order (for leak
// scans: a device code is a bearer secret until it is consumed).
func (s *Server) DeviceCodes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issuedDC...)
}

// Revoked lists every token value the client submitted for revocation, in
// order, including ones the server did not know, so tests can assert that
// the operator cleaned up.
func (s *Server) Revoked() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.revoked...)
}
