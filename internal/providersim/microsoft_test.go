package providersim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
)

func TestMicrosoftDeviceAnswer(t *testing.T) {
	s := start(t, Microsoft, Options{Tenant: "contoso.onmicrosoft.com"})
	if s.URL() != s.Host()+"/contoso.onmicrosoft.com" {
		t.Fatalf("URL() = %s", s.URL())
	}
	c, cfg := clientFor(t, s, "")
	d, err := c.RequestDeviceCode(t.Context(), cfg, oauthScopes("openid", "offline_access", "User.Read"))
	if err != nil {
		t.Fatal(err)
	}
	if d.VerificationURI != "https://microsoft.com/devicelogin" || d.VerificationURIComplete != "" ||
		!strings.Contains(d.Message, d.UserCode) || d.ExpiresIn != 15*time.Minute {
		t.Errorf("device answer %+v", d)
	}
	a := post(t, s.DeviceAuthorizationURL(), url.Values{"client_id": {s.ClientID()}})
	if a.status != http.StatusBadRequest || a.json["error"] != "invalid_request" || a.json["error_codes"] == nil || a.json["trace_id"] == nil {
		t.Errorf("v2 without scope: %d %s", a.status, a.raw)
	}
}

func TestMicrosoftPollingErrors(t *testing.T) {
	s := start(t, Microsoft, Options{})
	c, cfg := clientFor(t, s, "")
	d, err := c.RequestDeviceCode(t.Context(), cfg, oauthScopes("User.Read"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PollToken(t.Context(), cfg, d.DeviceCode)
	oe := wantCode(t, err, "authorization_pending", http.StatusBadRequest)
	if !strings.HasPrefix(oe.Description, "AADSTS70016: ") || strings.ContainsAny(oe.Description, "\r\n") {
		t.Errorf("description %q: AADSTS text, on one line", oe.Description)
	}
	_ = s.Deny(d.UserCode)
	time.Sleep(1100 * time.Millisecond)
	_, err = c.PollToken(t.Context(), cfg, d.DeviceCode)
	if oe := wantCode(t, err, "access_denied", http.StatusBadRequest); oe.ProviderCode != "authorization_declined" {
		t.Errorf("declined: %+v", oe)
	}
	_, err = c.PollToken(t.Context(), cfg, "DAQABnot-a-code")
	if oe := wantCode(t, err, "invalid_grant", http.StatusBadRequest); oe.ProviderCode != "bad_verification_code" {
		t.Errorf("unknown code: %+v", oe)
	}
	// A public client that sends a secret is refused.
	_, withSecret := clientFor(t, s, "not-for-public-clients")
	_, err = c.PollToken(t.Context(), withSecret, d.DeviceCode)
	if oe := wantCode(t, err, "invalid_client", http.StatusUnauthorized); !strings.Contains(oe.Description, "AADSTS700025") {
		t.Errorf("secret from a public client: %+v", oe)
	}
}

func TestMicrosoftRefreshTokenOnlyWithOfflineAccess(t *testing.T) {
	s := start(t, Microsoft, Options{})
	c, cfg := clientFor(t, s, "")
	tok := approved(t, s, c, cfg, "openid", "profile", "User.Read")
	if tok.RefreshToken != "" || tok.IDToken == "" || tok.Scope != "openid profile User.Read" || tok.ExpiresIn != 3599*time.Second {
		t.Errorf("without offline_access: %+v", tok)
	}
	if strings.Count(tok.AccessToken, ".") != 2 {
		t.Errorf("Entra access tokens are JWTs: %q", tok.AccessToken)
	}

	tok = approved(t, s, c, cfg, "offline_access", "User.Read")
	if tok.RefreshToken == "" || tok.IDToken != "" || tok.Scope != "User.Read" {
		t.Fatalf("with offline_access: %+v", tok)
	}
	refreshed, err := c.Refresh(t.Context(), cfg, tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if !refreshed.Rotated || !s.IsRefreshTokenValid(tok.RefreshToken) || !s.IsRefreshTokenValid(refreshed.RefreshToken) {
		t.Errorf("Entra answers a new refresh token and keeps the old one valid: %+v", refreshed)
	}
}

func TestMicrosoftV1SendsNumbersAsStrings(t *testing.T) {
	s := start(t, Microsoft, Options{TokenLifetime: 90 * time.Minute})
	c, cfg := clientFor(t, s, "")
	cfg.Endpoints = oauth.Endpoints{DeviceAuthorizationURL: s.MicrosoftV1DeviceAuthorizationURL(), TokenURL: s.MicrosoftV1TokenURL()}
	a := post(t, cfg.Endpoints.DeviceAuthorizationURL, url.Values{"client_id": {s.ClientID()}, "resource": {"https://graph.microsoft.com"}})
	if a.json["expires_in"] != "900" || a.json["interval"] != "1" || a.json["verification_url"] == nil {
		t.Errorf("v1 device answer %s", a.raw)
	}
	tok := approved(t, s, c, cfg, "offline_access")
	if tok.ExpiresIn != 90*time.Minute-time.Second || tok.Extra["expires_on"] == "" || tok.Extra["resource"] == "" {
		t.Errorf("v1 token %+v", tok)
	}
	refreshed, err := c.Refresh(t.Context(), cfg, tok.RefreshToken)
	if err != nil || refreshed.ExpiresIn < 89*time.Minute {
		t.Errorf("v1 refresh %+v, %v", refreshed, err)
	}
}
