package providersim

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// GitLab (gitlab.com and self-managed), as its OAuth documentation and Doorkeeper's device
// authorization grant answer:
//   - POST /oauth/authorize_device and /oauth/token, /oauth/revoke, GET /oauth/userinfo; the
//     verification page is /oauth/device. OIDC discovery at /.well-known/openid-configuration
//     with keys at /oauth/discovery/keys.
//   - RFC-shaped answers: interval 5, codes for 300 s, verification_uri_complete; errors HTTP 400
//     (401 invalid_client) with error and error_description.
//   - a non-confidential application sends client_id alone; a confidential one must authenticate
//     at both endpoints (else 401 invalid_client).
//   - tokens live 2 hours; a refresh rotates both, and the old ones stop working at once;
//     created_at in every token answer; an ID token with openid.

// gitlabScopes are the scopes a GitLab application can be granted.
var gitlabScopes = []string{
	"api", "read_api", "read_user", "create_runner", "manage_runner", "k8s_proxy", "read_repository",
	"write_repository", "read_registry", "write_registry", "read_virtual_registry", "write_virtual_registry",
	"read_observability", "write_observability", "ai_features", "sudo", "admin_mode", "openid", "profile", "email",
}

const (
	gitlabInvalidClient = "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method."
	gitlabInvalidGrant  = "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."
)

func (s *Server) gitlabRoutes() map[string]route {
	post, get, p := []string{http.MethodPost}, []string{http.MethodGet, http.MethodHead}, s.paths
	return map[string]route{
		"/.well-known/openid-configuration": {EndpointDiscovery, get, s.gitlabDiscovery},
		p.jwks:                              {EndpointJWKS, get, s.serveJWKS},
		p.device:                            {EndpointDevice, post, s.gitlabDevice},
		p.token:                             {EndpointToken, post, s.gitlabToken},
		p.revoke:                            {EndpointRevoke, post, s.gitlabRevoke},
		p.userinfo:                          {EndpointUserinfo, []string{http.MethodGet, http.MethodPost}, s.gitlabUserinfo},
		p.page:                              {EndpointPage, get, verificationPage},
	}
}

func (s *Server) gitlabDiscovery(c *call) {
	base := s.URL()
	c.json(http.StatusOK, body{
		"issuer":                                base,
		"authorization_endpoint":                base + "/oauth/authorize",
		"token_endpoint":                        s.TokenURL(),
		"revocation_endpoint":                   s.RevocationURL(),
		"introspection_endpoint":                base + "/oauth/introspect",
		"userinfo_endpoint":                     s.UserinfoURL(),
		"jwks_uri":                              s.JWKSURL(),
		"device_authorization_endpoint":         s.DeviceAuthorizationURL(),
		"scopes_supported":                      gitlabScopes,
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"grant_types_supported":                 []string{"authorization_code", "password", "client_credentials", "device_code", "refresh_token"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"claim_types_supported":                 []string{"normal"},
		"claims_supported":                      []string{"iss", "sub", "aud", "exp", "iat", "sub_legacy", "name", "nickname", "preferred_username", "email", "email_verified", "website", "profile", "picture", "groups", "groups_direct"},
	})
}

// gitlabClientOK applies Doorkeeper's client authentication, answering when it fails.
func (s *Server) gitlabClientOK(c *call) bool {
	cr, _, malformed := c.credentials()
	confidential := s.opts.ClientSecret != ""
	if malformed || cr.id != s.opts.ClientID || (confidential && cr.secret != s.opts.ClientSecret) {
		c.json(http.StatusUnauthorized, body{"error": "invalid_client", "error_description": gitlabInvalidClient})
		return false
	}
	return true
}

func (s *Server) gitlabDevice(c *call) {
	if !s.gitlabClientOK(c) {
		return
	}
	for _, sc := range c.scopes() {
		if !slices.Contains(gitlabScopes, sc) {
			c.json(http.StatusBadRequest, body{"error": "invalid_scope", "error_description": "The requested scope is invalid, unknown, or malformed."})
			return
		}
	}
	s.mu.Lock()
	userCode := s.userCodeLocked(func() string { return randomFrom("0123456789ABCDEFGHJKLMNPQRSTVWXYZ", 8) })
	g := s.newGrantLocked(randomB64(32), userCode, strings.Join(c.scopes(), " "))
	s.mu.Unlock()
	c.json(http.StatusOK, c.deviceAnswer(g, true))
}

func (s *Server) gitlabToken(c *call) {
	if !s.gitlabClientOK(c) {
		return
	}
	switch gt := c.form.Get("grant_type"); gt {
	case DeviceGrantType:
		s.gitlabDeviceGrant(c)
	case "refresh_token":
		s.gitlabRefresh(c)
	default:
		c.json(http.StatusBadRequest, body{"error": "unsupported_grant_type", "error_description": "The authorization grant type is not supported by the authorization server."})
	}
}

// gitlabAnswers are Doorkeeper's answers to a poll that issues nothing.
var gitlabAnswers = map[outcome][2]string{
	outUnknown:  {"invalid_grant", gitlabInvalidGrant},
	outExpired:  {"expired_token", "The device_code has expired, and the device authorization session has concluded."},
	outSlowDown: {"slow_down", "A variant of \"authorization_pending\", the authorization request is still pending and polling should continue, but the interval MUST be increased by 5 seconds for this and all subsequent requests."},
	outPending:  {"authorization_pending", "The authorization request is still pending as the end user hasn't yet completed the user-interaction steps."},
	outDenied:   {"access_denied", "The resource owner or authorization server denied the request."},
}

func (s *Server) gitlabDeviceGrant(c *call) {
	g, out, tok := s.pollGrant(c.form.Get("device_code"), func(g *grant) body { return s.gitlabIssueLocked(g, 0) })
	if out == outApproved {
		c.tokens(g, tok)
		return
	}
	a := gitlabAnswers[out]
	s.notePoll(g, a[0], http.StatusBadRequest)
	c.json(http.StatusBadRequest, body{"error": a[0], "error_description": a[1]})
}

func (s *Server) gitlabRefresh(c *call) {
	s.mu.Lock()
	var tok body
	if old, ok := s.presentRefreshLocked(c.form.Get("refresh_token")); ok {
		old.rotated = true
		s.revokeAccessLocked(old.family)
		tok = s.gitlabIssueLocked(standIn(old, old.scope), old.family)
	}
	s.mu.Unlock()
	if tok == nil {
		c.json(http.StatusBadRequest, body{"error": "invalid_grant", "error_description": gitlabInvalidGrant})
		return
	}
	c.json(http.StatusOK, tok)
}

// gitlabIssueLocked mints a token pair, and an ID token when openid was granted.
func (s *Server) gitlabIssueLocked(g *grant, family int) body {
	access, refresh := randomHex(32), randomHex(32)
	s.issueLocked(g, family, s.opts.TokenLifetime, access, refresh)
	now := s.clock.Now()
	b := body{
		"access_token": access, "token_type": "Bearer", "expires_in": seconds(s.opts.TokenLifetime),
		"refresh_token": refresh, "scope": g.scope, "created_at": now.Unix(),
	}
	if hasScope(g.scope, "openid") {
		id := s.sign(map[string]any{
			"iss": s.URL(), "sub": g.user.ID, "aud": s.opts.ClientID, "exp": now.Add(2 * time.Minute).Unix(),
			"iat": now.Unix(), "auth_time": now.Unix(), "sub_legacy": randomHex(32),
			"name": g.user.Name, "nickname": g.user.Login, "preferred_username": g.user.Login,
			"email": g.user.Email, "email_verified": true,
		})
		s.noteIDTokenLocked(id)
		b["id_token"] = id
	}
	return b
}

func (s *Server) gitlabRevoke(c *call) {
	if !s.gitlabClientOK(c) {
		return
	}
	s.mu.Lock()
	s.revokeLocked(c.form.Get("token"))
	s.mu.Unlock()
	c.json(http.StatusOK, body{}) // RFC 7009: 200 whether or not the token was known
}

func (s *Server) gitlabUserinfo(c *call) {
	u, valid := c.bearerUser("Bearer")
	if !valid {
		c.w.Header().Set("WWW-Authenticate", `Bearer realm="Doorkeeper", error="invalid_token", error_description="The access token is invalid"`)
		c.json(http.StatusUnauthorized, body{"error": "invalid_token", "error_description": "The access token is invalid"})
		return
	}
	c.json(http.StatusOK, body{
		"sub": u.ID, "name": u.Name, "nickname": u.Login, "preferred_username": u.Login,
		"email": u.Email, "email_verified": true, "profile": s.URL() + "/" + u.Login, "groups": []string{},
	})
}
