package providersim

import (
	"net/http"
	"slices"
	"strings"
)

// Sentry (sentry.io and self-hosted), as its oauth_device_authorization.py and oauth_token.py
// views answer:
//   - POST /oauth/device/code/ and /oauth/token/, with the trailing slash (without it: 404 HTML);
//     the verification page is /oauth/device/. No discovery document.
//   - the device endpoint wants client_id alone (401 invalid_client without it) and checks scopes;
//     it answers expires_in 600 and interval 5 with verification_uri_complete.
//   - the token endpoint takes credentials from Basic or the body, never both (400
//     invalid_request); a public application sends client_id alone; wrong credentials are 401
//     invalid_client with WWW-Authenticate.
//   - every token endpoint error is HTTP 400 (401 for invalid_client) with only {"error": ...}.
//   - each device code may be polled once per fixed 5-second window (Options.RateWindow), else
//     slow_down; the window is checked before anything else and does not grow after slow_down.
//   - a refresh rotates both tokens; the old ones stop working at once, and a replayed (already
//     rotated) refresh token revokes the whole family; a refresh that sends scope is
//     invalid_request.
//   - success: access_token, refresh_token, expires_in, expires_at (ISO 8601), token_type
//     "Bearer", scope, user {id, name, email} and organization_id for org-scoped grants.

// sentryScopes are the scopes Sentry's device endpoint accepts (settings.SENTRY_SCOPES).
var sentryScopes = []string{
	"org:read", "org:write", "org:admin", "org:integrations", "org:ci",
	"project:read", "project:write", "project:admin", "project:releases", "project:distribution",
	"team:read", "team:write", "team:admin", "member:read", "member:write", "member:admin", "member:invite",
	"event:read", "event:write", "event:admin", "alerts:read", "alerts:write",
	"openid", "profile", "email",
}

// window is Sentry's fixed rate-limit window for one device code.
type window struct {
	bucket int64
	count  int
}

// sentryUserCodeAlphabet is ApiDeviceCode's base-20 alphabet.
const sentryUserCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

func (s *Server) sentryRoutes() map[string]route {
	post, p := []string{http.MethodPost}, s.paths
	return map[string]route{
		p.device: {EndpointDevice, post, s.sentryDevice},
		p.token:  {EndpointToken, post, s.sentryToken},
		p.page:   {EndpointPage, []string{http.MethodGet}, verificationPage},
	}
}

func (s *Server) sentryDevice(c *call) {
	id := c.form.Get("client_id")
	switch {
	case id == "":
		c.json(http.StatusUnauthorized, body{"error": "invalid_client", "error_description": "Missing required parameter: client_id"})
		return
	case id != s.opts.ClientID:
		c.json(http.StatusUnauthorized, body{"error": "invalid_client", "error_description": "Invalid client_id"})
		return
	}
	for _, sc := range c.scopes() {
		if !slices.Contains(sentryScopes, sc) {
			c.json(http.StatusBadRequest, body{"error": "invalid_scope", "error_description": "Unknown scope: " + sc})
			return
		}
	}
	s.mu.Lock()
	userCode := s.userCodeLocked(func() string {
		return randomFrom(sentryUserCodeAlphabet, 4) + "-" + randomFrom(sentryUserCodeAlphabet, 4)
	})
	g := s.newGrantLocked(randomHex(32), userCode, strings.Join(c.scopes(), " "))
	s.mu.Unlock()
	c.json(http.StatusOK, c.deviceAnswer(g, true))
}

// sentryError answers as OAuthTokenView.error does: only the code.
func (s *Server) sentryError(c *call, code string) {
	status := http.StatusBadRequest
	if code == "invalid_client" {
		status = http.StatusUnauthorized
		c.w.Header().Set("WWW-Authenticate", `Basic realm="oauth"`)
	}
	c.json(status, body{"error": code})
}

func (s *Server) sentryToken(c *call) {
	cr, conflict, malformed := c.credentials()
	switch {
	case conflict:
		s.sentryError(c, "invalid_request") // "credential conflict"
		return
	case malformed:
		s.sentryError(c, "invalid_client")
		return
	case cr.id != s.opts.ClientID:
		s.sentryError(c, "invalid_client")
		return
	case s.opts.ClientSecret == "" && cr.secret != "", s.opts.ClientSecret != "" && cr.secret != s.opts.ClientSecret:
		// A public application has no secret to match; a confidential one must send its own.
		s.sentryError(c, "invalid_client")
		return
	}
	switch gt := c.form.Get("grant_type"); gt {
	case "":
		s.sentryError(c, "invalid_request")
	case DeviceGrantType:
		s.sentryDeviceGrant(c)
	case "refresh_token":
		s.sentryRefresh(c)
	default:
		s.sentryError(c, "unsupported_grant_type")
	}
}

func (s *Server) sentryDeviceGrant(c *call) {
	dc := c.form.Get("device_code")
	if dc == "" {
		s.sentryError(c, "invalid_request")
		return
	}
	s.mu.Lock()
	// ratelimiter.is_limited(key, limit=1, window=5): one poll per fixed window, counted first.
	bucket := s.clock.Now().UnixNano() / int64(s.opts.RateWindow)
	w := s.windows[dc]
	if w.bucket != bucket {
		w = window{bucket: bucket}
	}
	w.count++
	s.windows[dc] = w
	var g *grant
	var out outcome
	if w.count > 1 {
		g, out = s.grants[dc], outSlowDown
		if g != nil {
			g.earned++
		}
	} else {
		g, out = s.pollLocked(dc, false)
	}
	var tok body
	if out == outApproved {
		tok = s.sentryIssueLocked(g, 0)
	}
	if out == outExpired || out == outDenied || out == outApproved {
		delete(s.grants, dc) // the code is deleted on every final answer
	}
	s.mu.Unlock()
	answer := map[outcome]string{
		outUnknown: "invalid_grant", outExpired: "expired_token", outSlowDown: "slow_down",
		outPending: "authorization_pending", outDenied: "access_denied",
	}[out]
	if out == outApproved {
		c.tokens(g, tok)
		return
	}
	s.notePoll(g, answer, http.StatusBadRequest)
	s.sentryError(c, answer)
}

func (s *Server) sentryRefresh(c *call) {
	rt := c.form.Get("refresh_token")
	if rt == "" || c.form.Has("scope") {
		s.sentryError(c, "invalid_request") // "TODO(dcramer): support scope"
		return
	}
	s.mu.Lock()
	var tok body
	switch old, ok := s.presentRefreshLocked(rt); {
	case ok:
		old.rotated = true
		s.revokeAccessLocked(old.family)
		tok = s.sentryIssueLocked(standIn(old, old.scope), old.family)
	case old != nil && old.rotated && !old.revoked:
		s.revokeFamilyLocked(old.family) // a replayed, rotated refresh token revokes the whole family
	}
	s.mu.Unlock()
	if tok == nil {
		s.sentryError(c, "invalid_grant")
		return
	}
	c.json(http.StatusOK, tok)
}

// sentryIssueLocked mints a token pair and dresses it as process_token_details does.
func (s *Server) sentryIssueLocked(g *grant, family int) body {
	access, refresh := randomHex(32), randomHex(32)
	s.issueLocked(g, family, s.opts.TokenLifetime, access, refresh)
	b := body{
		"access_token":  access,
		"refresh_token": refresh,
		"expires_in":    seconds(s.opts.TokenLifetime),
		"expires_at":    s.clock.Now().Add(s.opts.TokenLifetime).UTC().Format("2006-01-02T15:04:05.000000Z"),
		"token_type":    "Bearer",
		"scope":         g.scope,
		"user":          map[string]string{"id": g.user.ID, "name": g.user.Name, "email": g.user.Email},
	}
	if strings.Contains(" "+g.scope, " org:") {
		b["organization_id"] = "4509"
	}
	return b
}
