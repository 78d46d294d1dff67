package testidp

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// handleDiscovery serves the OIDC or RFC 8414 metadata document, each only
// when enabled, so tests can check that the client copes with either.
func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	oidc := r.URL.Path == pathOIDCConfig
	if (oidc && !s.opts.OIDC) || (!oidc && !s.opts.RFC8414) {
		http.NotFound(w, r)
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
	doc := map[string]any{
		"issuer":                                     s.URL(),
		"authorization_endpoint":                     s.URL() + pathAuthorize,
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
	writeJSON(w, http.StatusOK, doc)
}

// handleJWKS publishes the public half of the signing key.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key:       &s.key.PublicKey,
		KeyID:     s.kid,
		Algorithm: string(jose.RS256),
		Use:       "sig",
	}}}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(set)
}

// signIDToken mints an RS256 ID token. Times come from the server's clock,
// so a verifier using the real clock needs a fake clock near real time.
func (s *Server) signIDToken(subject string, now time.Time) string {
	life := s.opts.TokenLifetime
	claims := map[string]any{
		"iss":            s.URL(),
		"aud":            s.opts.ClientID,
		"sub":            subject,
		"email":          subject,
		"email_verified": true,
		"iat":            now.Unix(),
		"exp":            now.Add(life).Unix(),
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(fmt.Sprintf("testidp: marshalling claims: %v", err))
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: s.key, KeyID: s.kid}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		panic(fmt.Sprintf("testidp: creating signer: %v", err))
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		panic(fmt.Sprintf("testidp: signing ID token: %v", err))
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		panic(fmt.Sprintf("testidp: serializing ID token: %v", err))
	}
	return tok
}

// handleUserinfo is OIDC Core 5.3. The token is taken from the
// Authorization header only: RFC 6750 discourages the query form and a
// client that uses it would leak the token into logs.
func (s *Server) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	authz := r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(authz, " ")
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="testidp"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_request", "error_description": "Bearer token required in the Authorization header"})
		return
	}
	s.mu.Lock()
	at, ok := s.validAccessLocked(tok)
	var subject string
	if ok {
		subject = at.subject
	}
	s.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="testidp", error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "access token invalid, expired or revoked"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"sub": subject, "email": subject})
}
