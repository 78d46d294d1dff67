package providersim

import (
	"net/http"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// rfcDiscovery serves the OIDC or RFC 8414 metadata document, each only when enabled, so that
// tests can check that a client copes with either.
func (s *Server) rfcDiscovery(c *call) {
	oidc := c.r.URL.Path == "/.well-known/openid-configuration"
	if (oidc && !s.opts.OIDC) || (!oidc && !s.opts.RFC8414) {
		c.html(http.StatusNotFound, "<!DOCTYPE html><html><body><h1>Not Found</h1></body></html>")
		return
	}
	authMethods := []string{"none"}
	if s.opts.ClientSecret != "" {
		authMethods = []string{"client_secret_basic", "client_secret_post"}
	}
	grants := []string{DeviceGrantType}
	if !s.opts.NoRefreshToken {
		grants = append(grants, "refresh_token")
	}
	doc := body{
		"issuer":                                     s.URL(),
		"authorization_endpoint":                     s.URL() + "/authorize",
		"device_authorization_endpoint":              s.DeviceAuthorizationURL(),
		"token_endpoint":                             s.TokenURL(),
		"revocation_endpoint":                        s.RevocationURL(),
		"jwks_uri":                                   s.JWKSURL(),
		"grant_types_supported":                      grants,
		"response_types_supported":                   []string{"code"},
		"token_endpoint_auth_methods_supported":      authMethods,
		"revocation_endpoint_auth_methods_supported": authMethods,
		"scopes_supported":                           []string{"openid", "email", "profile", "offline_access"},
	}
	if oidc {
		doc["userinfo_endpoint"] = s.UserinfoURL()
		doc["subject_types_supported"] = []string{"public"}
		doc["id_token_signing_alg_values_supported"] = []string{string(jose.RS256)}
		doc["claims_supported"] = []string{"iss", "sub", "aud", "exp", "iat", "email"}
	}
	c.json(http.StatusOK, doc)
}

// rfcIDTokenLocked mints an ID token naming u by email (sub and email alike). Its times come from
// the provider's clock, so a verifier on the real clock needs a fake clock near real time.
func (s *Server) rfcIDTokenLocked(u User) string {
	now := s.clock.Now()
	tok := s.sign(map[string]any{
		"iss": s.URL(), "aud": s.opts.ClientID, "sub": u.Email, "email": u.Email, "email_verified": true,
		"iat": now.Unix(), "exp": now.Add(s.opts.TokenLifetime).Unix(),
	})
	s.noteIDTokenLocked(tok)
	return tok
}

// rfcUserinfo is OIDC Core section 5.3, with the token from the Authorization header only.
func (s *Server) rfcUserinfo(c *call) {
	if c.r.Method != http.MethodGet && c.r.Method != http.MethodPost {
		c.w.Header().Set("Allow", "GET, POST")
		c.html(http.StatusMethodNotAllowed, "<html><body>Method Not Allowed</body></html>")
		return
	}
	if scheme, tok, _ := strings.Cut(c.r.Header.Get("Authorization"), " "); !strings.EqualFold(scheme, "Bearer") || tok == "" {
		c.w.Header().Set("WWW-Authenticate", `Bearer realm="providersim"`)
		c.json(http.StatusUnauthorized, body{"error": "invalid_request", "error_description": "Bearer token required in the Authorization header"})
		return
	}
	u, ok := c.bearerUser("Bearer")
	if !ok {
		c.w.Header().Set("WWW-Authenticate", `Bearer realm="providersim", error="invalid_token"`)
		c.json(http.StatusUnauthorized, body{"error": "invalid_token", "error_description": "access token invalid, expired or revoked"})
		return
	}
	c.json(http.StatusOK, body{"sub": u.Email, "email": u.Email})
}
