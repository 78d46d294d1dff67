package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// subjectClaims are tried in order: the most recognisable to a person who
// reads "approved by ..." in a status first (an address, then an account
// name: OIDC's preferred_username, GitHub's login), a display name after
// those (it need not be unique), the opaque sub last.
var subjectClaims = []string{"email", "preferred_username", "login", "username", "name", "sub"}

// extraSubjectKeys are non-standard token response fields naming the user.
var extraSubjectKeys = []string{"user", "login", "username"}

// TenantIDPlaceholder stands, in Endpoints.Issuer, for the tenant that issued an ID token.
// Microsoft Entra's multi-tenant authorities (common, organizations) advertise the issuer
// https://login.microsoftonline.com/{tenantid}/v2.0: every token names its own tenant in the tid
// claim, and its iss must be the template with that tenant ID put in.
const TenantIDPlaceholder = "{tenantid}"

// maxTenantIDLen bounds the tid claim; Entra's are 36-character GUIDs.
const maxTenantIDLen = 64

type verifierKey struct{ issuer, jwksURL, clientID string }

// Subject names who approved the login, for audit in the resource status:
// from a verified ID token when the provider is OIDC, else from userinfo,
// else from provider-specific token fields; "" when unknown. An ID token
// that fails verification is an error, never silently ignored, since its
// claims would otherwise be attacker-controlled.
func (c *Client) Subject(ctx context.Context, cfg ClientConfig, tok *Token) (string, error) {
	if tok == nil {
		return "", nil
	}
	ep := cfg.Endpoints
	secrets := []string{tok.AccessToken, tok.RefreshToken, tok.IDToken, cfg.ClientSecret}
	switch {
	case tok.IDToken != "" && ep.Issuer != "" && ep.JWKSURL != "":
		return c.subjectFromIDToken(ctx, cfg, tok.IDToken, secrets)
	case ep.UserinfoURL != "" && tok.AccessToken != "":
		return c.subjectFromUserinfo(ctx, ep.UserinfoURL, tok.AccessToken, secrets)
	}
	for _, k := range extraSubjectKeys {
		if v := tok.Extra[k]; v != "" {
			return v, nil
		}
	}
	return "", nil
}

func (c *Client) subjectFromIDToken(ctx context.Context, cfg ClientConfig, raw string, secrets []string) (string, error) {
	idt, err := c.verifier(cfg).Verify(ctx, raw)
	if err != nil {
		return "", idTokenError(ctx, err, secrets)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return "", &ProtocolError{Reason: "ID token claims are not a JSON object"}
	}
	if template := cfg.Endpoints.Issuer; strings.Contains(template, TenantIDPlaceholder) {
		if err := checkTenantIssuer(template, idt.Issuer, claims, secrets); err != nil {
			return "", err
		}
	}
	return pickSubject(claims), nil
}

// checkTenantIssuer is the issuer check that go-oidc skips for a templated issuer: the token's
// tid claim, put into the template, must give exactly its iss. The signature, audience and expiry
// are go-oidc's to check, and were.
func checkTenantIssuer(template, iss string, claims map[string]any, secrets []string) error {
	tid, _ := claims["tid"].(string)
	if !validTenantID(tid) {
		return &ProtocolError{Reason: "ID token verification failed: the issuer " + template + " needs a tenant ID in the token's tid claim, and it has none that is usable"}
	}
	if want := strings.ReplaceAll(template, TenantIDPlaceholder, tid); iss != want {
		return &ProtocolError{Reason: fmt.Sprintf("ID token verification failed: issued by %q, but its tenant's issuer is %q",
			sanitizeProviderText(iss, secrets), sanitizeProviderText(want, secrets))}
	}
	return nil
}

// validTenantID accepts a short tenant ID of letters, digits, dots and dashes: a GUID, as Entra
// sends, and nothing that could add a path segment or a placeholder to the issuer.
func validTenantID(tid string) bool {
	if tid == "" || len(tid) > maxTenantIDLen {
		return false
	}
	for _, r := range tid {
		if !tenantIDRune(r) {
			return false
		}
	}
	return true
}

// tenantIDRune says whether r may appear in a tenant ID: ASCII letters and digits, '-' and '.'.
func tenantIDRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.'
}

// verifier returns the cached verifier for cfg. The cache grows with the
// number of configured providers, which is small and bounded by config. An
// issuer with TenantIDPlaceholder is a template that go-oidc cannot compare:
// its check is skipped there and done by checkTenantIssuer instead.
func (c *Client) verifier(cfg ClientConfig) *oidc.IDTokenVerifier {
	key := verifierKey{cfg.Endpoints.Issuer, cfg.Endpoints.JWKSURL, cfg.ClientID}
	if v, ok := c.verifiers.Load(key); ok {
		return v.(*oidc.IDTokenVerifier)
	}
	// The key set outlives this call, so it gets a background context
	// rather than one carrying this reconcile's values; HTTP.Timeout still
	// bounds each JWKS fetch.
	ks := oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), libraryClient(c.httpClient(), nil)), key.jwksURL)
	conf := &oidc.Config{ClientID: key.clientID, SkipIssuerCheck: strings.Contains(key.issuer, TenantIDPlaceholder)}
	v, _ := c.verifiers.LoadOrStore(key, oidc.NewVerifier(key.issuer, ks, conf))
	return v.(*oidc.IDTokenVerifier)
}

// idTokenError classifies a go-oidc failure: JWKS unreachable is transient,
// anything else means the token is not acceptable. go-oidc's messages do
// not quote the token but may quote a JWKS body, so they are sanitised.
func idTokenError(ctx context.Context, err error, secrets []string) error {
	var ue *url.Error
	if errors.As(err, &ue) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return transportError(ctx, err)
	}
	var expired *oidc.TokenExpiredError
	if errors.As(err, &expired) {
		return &ProtocolError{Reason: "ID token expired at " + expired.Expiry.UTC().Format(time.RFC3339)}
	}
	return &ProtocolError{Reason: "ID token verification failed: " + sanitizeProviderText(err.Error(), secrets)}
}

func (c *Client) subjectFromUserinfo(ctx context.Context, endpoint, accessToken string, secrets []string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, http.NoBody)
	if err != nil {
		return "", errors.New("oauth: userinfo URL is not a valid URL")
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := c.do(ctx, req)
	if err != nil {
		return "", err
	}
	if resp.status < 200 || resp.status > 299 {
		if f, _ := decodeBody(resp.header, resp.body); f["error"] != "" && resp.status < 500 {
			return "", oauthError(resp.status, resp.header, f, secrets)
		}
		return "", statusError(resp.status, resp.header)
	}
	if mt, _, _ := mime.ParseMediaType(resp.header.Get("Content-Type")); mt == "application/jwt" {
		return "", &ProtocolError{Reason: "signed userinfo responses (application/jwt) are not supported"}
	}
	var claims map[string]any
	if err := json.Unmarshal(resp.body, &claims); err != nil {
		return "", &TransientError{Reason: "userinfo " + notJSONReason(resp.header), StatusCode: resp.status}
	}
	return pickSubject(claims), nil
}

// pickSubject takes string claims only: a number or object is not a name.
func pickSubject(claims map[string]any) string {
	for _, k := range subjectClaims {
		if s, ok := claims[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}
