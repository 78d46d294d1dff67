package providersim

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// Google, as "OAuth 2.0 for TV and Limited-Input Device Applications" describes it:
//   - POST /device/code and /token at oauth2.googleapis.com, /revoke for RFC 7009.
//   - the device endpoint takes client_id and scope and answers verification_url (not
//     verification_uri), expires_in 1800 and interval 5; no complete URI.
//   - polling needs the client secret: without it, 400 invalid_request "client_secret is
//     missing."; a wrong one is 401 invalid_client.
//   - authorization_pending comes with HTTP 428, slow_down and access_denied with 403,
//     expired_token and invalid_grant with 400.
//   - granted scopes come back as Google names them (email is
//     https://www.googleapis.com/auth/userinfo.email); an ID token with openid, issued by
//     https://accounts.google.com and signed with the keys served at /oauth2/v3/certs (on
//     www.googleapis.com, in the real service).
//   - refresh tokens are not rotated: a refresh answers no refresh_token and the one used stays
//     valid; a revoked one is 400 invalid_grant "Token has been expired or revoked."
//
// Early polls are refused with slow_down (the documentation only says to honour the interval).

// GoogleIssuer is the iss of Google's ID tokens.
const GoogleIssuer = "https://accounts.google.com"

// googleScopeNames are the long names Google answers for the short scopes.
var googleScopeNames = map[string]string{
	"email":   "https://www.googleapis.com/auth/userinfo.email",
	"profile": "https://www.googleapis.com/auth/userinfo.profile",
}

func (s *Server) googleRoutes() map[string]route {
	post, p := []string{http.MethodPost}, s.paths
	return map[string]route{
		p.device: {EndpointDevice, post, s.googleDevice},
		p.token:  {EndpointToken, post, s.googleToken},
		p.revoke: {EndpointRevoke, post, s.googleRevoke},
		p.jwks:   {EndpointJWKS, []string{http.MethodGet}, s.serveJWKS},
	}
}

func (s *Server) googleDevice(c *call) {
	cr, _, malformed := c.credentials()
	switch {
	case malformed || cr.id == "":
		c.json(http.StatusBadRequest, body{"error": "invalid_request", "error_description": "Missing required parameter: client_id"})
		return
	case cr.id != s.opts.ClientID:
		c.json(http.StatusUnauthorized, body{"error": "invalid_client", "error_description": "The OAuth client was not found."})
		return
	case cr.secret != "" && cr.secret != s.opts.ClientSecret:
		c.json(http.StatusUnauthorized, body{"error": "invalid_client", "error_description": "Unauthorized"})
		return
	case len(c.scopes()) == 0:
		c.json(http.StatusBadRequest, body{"error": "invalid_scope", "error_description": "Missing required parameter: scope"})
		return
	}
	var granted []string
	for _, sc := range c.scopes() {
		if long, ok := googleScopeNames[sc]; ok {
			sc = long
		}
		if !slices.Contains(granted, sc) {
			granted = append(granted, sc)
		}
	}
	s.mu.Lock()
	userCode := s.userCodeLocked(func() string {
		return randomFrom("BCDFGHJKLMNPQRSTVWXZ", 4) + "-" + randomFrom("BCDFGHJKLMNPQRSTVWXZ", 4)
	})
	g := s.newGrantLocked("AH-1Ng"+randomB64(48), userCode, strings.Join(granted, " "))
	s.mu.Unlock()
	c.json(http.StatusOK, body{
		"device_code":      g.deviceCode,
		"user_code":        g.userCode,
		"expires_in":       seconds(s.opts.CodeLifetime),
		"interval":         seconds(s.opts.Interval),
		"verification_url": "https://www.google.com/device",
	})
}

// googleClientOK applies the token endpoint's client authentication, answering when it fails.
func (s *Server) googleClientOK(c *call) bool {
	cr, conflict, malformed := c.credentials()
	switch {
	case conflict || malformed:
		c.json(http.StatusBadRequest, body{"error": "invalid_request", "error_description": "Invalid client authentication."})
	case cr.id != s.opts.ClientID:
		c.json(http.StatusUnauthorized, body{"error": "invalid_client", "error_description": "The OAuth client was not found."})
	case cr.secret == "":
		c.json(http.StatusBadRequest, body{"error": "invalid_request", "error_description": "client_secret is missing."})
	case cr.secret != s.opts.ClientSecret:
		c.json(http.StatusUnauthorized, body{"error": "invalid_client", "error_description": "Unauthorized"})
	default:
		return true
	}
	return false
}

func (s *Server) googleToken(c *call) {
	if !s.googleClientOK(c) {
		return
	}
	switch gt := c.form.Get("grant_type"); gt {
	case DeviceGrantType:
		s.googleDeviceGrant(c)
	case "refresh_token":
		s.googleRefresh(c)
	default:
		c.json(http.StatusBadRequest, body{"error": "unsupported_grant_type", "error_description": "Invalid grant_type: " + gt})
	}
}

// googleAnswers are the status, code and description of a poll that issues nothing.
var googleAnswers = map[outcome]struct {
	status            int
	code, description string
}{
	outUnknown:  {http.StatusBadRequest, "invalid_grant", "Malformed auth code."},
	outExpired:  {http.StatusBadRequest, "expired_token", "Expired token."},
	outSlowDown: {http.StatusForbidden, "slow_down", "Forbidden"},
	outPending:  {http.StatusPreconditionRequired, "authorization_pending", "Precondition Required"},
	outDenied:   {http.StatusForbidden, "access_denied", "Forbidden"},
}

func (s *Server) googleDeviceGrant(c *call) {
	g, out, tok := s.pollGrant(c.form.Get("device_code"), func(g *grant) body { return s.googleIssueLocked(g, 0, true) })
	if out == outApproved {
		c.tokens(g, tok)
		return
	}
	a := googleAnswers[out]
	s.notePoll(g, a.code, a.status)
	c.json(a.status, body{"error": a.code, "error_description": a.description})
}

func (s *Server) googleRefresh(c *call) {
	s.mu.Lock()
	var tok body
	if old, ok := s.presentRefreshLocked(c.form.Get("refresh_token")); ok {
		tok = s.googleIssueLocked(standIn(old, old.scope), old.family, false) // not rotated: no new refresh token
	}
	s.mu.Unlock()
	if tok == nil {
		c.json(http.StatusBadRequest, body{"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
		return
	}
	c.json(http.StatusOK, tok)
}

// googleIssueLocked mints an access token, a refresh token on the first grant only, and an ID
// token when openid was granted.
func (s *Server) googleIssueLocked(g *grant, family int, withRefresh bool) body {
	access, refresh := "ya29."+randomB64(96), ""
	if withRefresh {
		refresh = "1//0" + randomB64(72)
	}
	s.issueLocked(g, family, s.opts.TokenLifetime, access, refresh)
	b := body{
		"access_token": access, "expires_in": seconds(s.opts.TokenLifetime) - 1,
		"scope": g.scope, "token_type": "Bearer",
	}
	if refresh != "" {
		b["refresh_token"] = refresh
	}
	if hasScope(g.scope, "openid") {
		now := s.clock.Now()
		id := s.sign(map[string]any{
			"iss": GoogleIssuer, "aud": s.opts.ClientID, "azp": s.opts.ClientID,
			"sub": "1000" + g.user.ID, "email": g.user.Email, "email_verified": true,
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		})
		s.noteIDTokenLocked(id)
		b["id_token"] = id
	}
	return b
}

// googleRevoke revokes an access token, or a refresh token and with it the grant.
func (s *Server) googleRevoke(c *call) {
	s.mu.Lock()
	known := s.revokeLocked(c.form.Get("token"))
	s.mu.Unlock()
	if !known {
		c.json(http.StatusBadRequest, body{"error": "invalid_token", "error_description": "Token expired or revoked"})
		return
	}
	c.json(http.StatusOK, body{})
}
