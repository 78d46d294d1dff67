package providersim

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// The RFC dialect is a strict provider of the device authorization grant (RFC 8628), the refresh
// grant (RFC 6749 section 6), revocation (RFC 7009) and, with Options.OIDC, discovery, ID tokens
// and userinfo:
//   - POST /device/code, /token and /revoke take form bodies only, no parameters in the query and
//     none repeated (rfc_clientauth.go); client authentication is exactly one method.
//   - user codes are XXXX-XXXX of RFC 8628 section 6.1's consonants; the verification page is
//     /device, with verification_uri_complete, and approves through a form (rfc_pages.go).
//   - errors are HTTP 400 (401 invalid_client) with error and error_description.
//   - refresh tokens rotate unless NoRotation; a narrower scope may be asked for on refresh, a
//     wider one is invalid_scope.
//   - revoking a refresh token revokes its access tokens; an unknown token is a success.

// userCodeAlphabet is RFC 8628 section 6.1's example: consonants only, so codes cannot spell
// words, and no vowels or look-alikes to mistype.
const userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

func (s *Server) rfcRoutes() map[string]route {
	p := s.paths
	return map[string]route{
		p.device:                            {EndpointDevice, nil, s.rfcDevice},
		p.token:                             {EndpointToken, nil, s.rfcToken},
		p.revoke:                            {EndpointRevoke, nil, s.rfcRevoke},
		p.userinfo:                          {EndpointUserinfo, nil, s.rfcUserinfo},
		p.jwks:                              {EndpointJWKS, []string{http.MethodGet, http.MethodHead}, s.serveJWKS},
		"/.well-known/openid-configuration": {EndpointDiscovery, []string{http.MethodGet, http.MethodHead}, s.rfcDiscovery},
		"/.well-known/oauth-authorization-server": {EndpointDiscovery, []string{http.MethodGet, http.MethodHead}, s.rfcDiscovery},
		p.page:              {EndpointPage, nil, s.rfcVerificationPage},
		p.page + "/approve": {EndpointPage, nil, s.rfcApprovePage},
	}
}

// rfcDevice is RFC 8628 sections 3.1 and 3.2.
func (s *Server) rfcDevice(c *call) {
	form, ok := s.rfcClient(c, s.bareClientIDAllowed)
	if !ok {
		return
	}
	s.mu.Lock()
	userCode := s.userCodeLocked(func() string {
		return randomFrom(userCodeAlphabet, 4) + "-" + randomFrom(userCodeAlphabet, 4)
	})
	g := s.newGrantLocked(randomB64(32), userCode, form.Get("scope"))
	s.mu.Unlock()
	resp := c.deviceAnswer(g, true)
	if s.opts.OmitInterval {
		delete(resp, "interval")
	}
	c.json(http.StatusOK, resp)
}

// rfcToken is the RFC 6749 section 3.2 token endpoint.
func (s *Server) rfcToken(c *call) {
	form, ok := s.rfcClient(c, nil)
	if !ok {
		return
	}
	switch gt := form.Get("grant_type"); gt {
	case "":
		c.fail(badRequest("invalid_request", "grant_type missing"))
	case DeviceGrantType:
		s.rfcDeviceGrant(c, form.Get("device_code"))
	case "refresh_token":
		s.rfcRefresh(c, form)
	default:
		c.fail(badRequest("unsupported_grant_type", "grant_type "+gt+" not supported"))
	}
}

// rfcAnswers are the answers to a poll that issues nothing.
var rfcAnswers = map[outcome][2]string{
	outUnknown:  {"invalid_grant", "unknown device_code"},
	outExpired:  {"expired_token", "device_code expired"},
	outSlowDown: {"slow_down", "polling faster than the interval"},
	outPending:  {"authorization_pending", "the user has not answered yet"},
	outDenied:   {"access_denied", "the user denied the request"},
}

// rfcDeviceGrant is RFC 8628 sections 3.4 and 3.5.
func (s *Server) rfcDeviceGrant(c *call, deviceCode string) {
	if deviceCode == "" {
		c.fail(badRequest("invalid_request", "device_code missing"))
		return
	}
	g, out, tok := s.pollGrant(deviceCode, func(g *grant) body {
		return s.rfcIssueLocked(g, 0, g.scope, true)
	})
	if out == outApproved {
		c.tokens(g, tok)
		return
	}
	a := rfcAnswers[out]
	if out == outUnknown && g != nil {
		a[1] = "device_code already used"
	}
	s.notePoll(g, a[0], http.StatusBadRequest)
	c.fail(badRequest(a[0], a[1]))
}

// rfcRefresh is RFC 6749 section 6. A narrower scope is granted; a wider one is invalid_scope,
// as the RFC requires.
func (s *Server) rfcRefresh(c *call, form url.Values) {
	rt := form.Get("refresh_token")
	if rt == "" {
		c.fail(badRequest("invalid_request", "refresh_token missing"))
		return
	}
	tok, e := s.rfcRefreshGrant(rt, form.Get("scope"))
	if e != nil {
		c.fail(e)
		return
	}
	c.json(http.StatusOK, tok)
}

// rfcRefreshGrant takes the refresh token and issues, or says why not.
func (s *Server) rfcRefreshGrant(rt, scope string) (body, *oauthError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.presentRefreshLocked(rt)
	if !ok {
		return nil, badRequest("invalid_grant", "refresh token invalid, revoked or already used")
	}
	if scope == "" {
		scope = old.scope
	} else if !scopeSubset(scope, old.scope) {
		return nil, badRequest("invalid_scope", "scope exceeds the original grant")
	}
	rotate := !s.opts.NoRotation
	old.rotated = rotate
	return s.rfcIssueLocked(standIn(old, scope), old.family, old.scope, rotate), nil
}

// rfcIssueLocked mints an access token (and a refresh token for refreshScope, when newRefresh)
// and builds the RFC 6749 section 5.1 answer.
func (s *Server) rfcIssueLocked(g *grant, family int, refreshScope string, newRefresh bool) body {
	access, refresh := randomB64(32), ""
	if newRefresh && !s.opts.NoRefreshToken {
		refresh = randomB64(32)
	}
	lifetime := s.opts.TokenLifetime
	if s.opts.NoExpiry {
		lifetime = 0
	}
	s.issueLocked(g, family, lifetime, access, refresh)
	resp := body{"access_token": access, "token_type": "Bearer"}
	if lifetime > 0 {
		resp["expires_in"] = seconds(lifetime)
	}
	if refresh != "" {
		s.refresh[refresh].scope = refreshScope
		resp["refresh_token"] = refresh
	}
	if g.scope != "" {
		resp["scope"] = g.scope
	}
	if s.opts.OIDC && hasScope(g.scope, "openid") {
		resp["id_token"] = s.rfcIDTokenLocked(g.user)
	}
	return resp
}

// rfcRevoke is RFC 7009. An unknown token is a success: the client's goal (the token is
// unusable) is met, and answering otherwise would tell which tokens exist.
func (s *Server) rfcRevoke(c *call) {
	form, ok := s.rfcClient(c, nil)
	if !ok {
		return
	}
	tok := form.Get("token")
	if tok == "" {
		c.fail(badRequest("invalid_request", "token missing"))
		return
	}
	s.mu.Lock()
	s.revokeLocked(tok)
	s.mu.Unlock()
	c.w.Header().Set("Cache-Control", "no-store")
	c.rec.Status = http.StatusOK
	c.w.WriteHeader(http.StatusOK)
}

func hasScope(scope, want string) bool { return slices.Contains(strings.Fields(scope), want) }

func scopeSubset(req, granted string) bool {
	for _, sc := range strings.Fields(req) {
		if !hasScope(granted, sc) {
			return false
		}
	}
	return true
}
