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

// TestMicrosoftIDTokenNamesWhoApproved verifies the simulation's ID tokens as the operator does,
// for each kind of authority: the issuer is the tenant's, the keys are under issuerURL, and
// preferred_username names who approved. common, organizations and a tenant named by its domain
// take any tenant whose iss and tid agree; an authority named by tenant ID, and consumers, only
// their own issuer (tid is then not consulted: the signed iss says it all).
func TestMicrosoftIDTokenNamesWhoApproved(t *testing.T) {
	const elsewhere = "0f6e5d4c-3b2a-4190-8877-665544332211"
	tests := []struct {
		tenant     string
		anyTenant  bool
		wantIssuer string
		wantTenant string
	}{
		{"common", true, MicrosoftIssuer("{tenantid}"), ""},
		{"organizations", true, MicrosoftIssuer("{tenantid}"), ""},
		{"contoso.onmicrosoft.com", true, MicrosoftIssuer("{tenantid}"), ""},
		{"consumers", false, MicrosoftIssuer(MicrosoftConsumersTenant), MicrosoftConsumersTenant},
		{"4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f", false, MicrosoftIssuer("4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f"), "4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f"},
	}
	other := start(t, Microsoft, Options{})
	for _, tc := range tests {
		t.Run(tc.tenant, func(t *testing.T) {
			s := start(t, Microsoft, Options{Tenant: tc.tenant})
			c, cfg := clientFor(t, s, "")
			if cfg.Endpoints.Issuer != tc.wantIssuer || cfg.Endpoints.JWKSURL != s.URL()+"/discovery/v2.0/keys" ||
				(tc.wantTenant != "" && s.TenantID() != tc.wantTenant) {
				t.Fatalf("preset endpoints %+v, tenant %s", cfg.Endpoints, s.TenantID())
			}
			tok := approved(t, s, c, cfg, "openid", "profile", "offline_access")
			if got, err := subjectOf(t, c, cfg, tok.IDToken); got != "alice@example.com" || err != nil {
				t.Errorf("approved: %q, %v", got, err)
			}
			own := s.TenantID()
			base := map[string]any{"iss": MicrosoftIssuer(own), "tid": own, "aud": s.ClientID(),
				"preferred_username": "mallory@example.com", "name": "Mallory", "ver": "2.0"}
			multi := ""
			if tc.anyTenant {
				multi = "Mallory"
			}
			cases := []struct {
				name, raw, want string
			}{
				{"name without a username", s.Sign(idClaims(base, "preferred_username", nil)), "Mallory"},
				{"another tenant, iss and tid agreeing", s.Sign(idClaims(base, "iss", MicrosoftIssuer(elsewhere), "tid", elsewhere, "preferred_username", nil)), multi},
				{"tid of this tenant, iss of another", s.Sign(idClaims(base, "iss", MicrosoftIssuer(elsewhere))), ""},
				{"no tid", s.Sign(idClaims(base, "tid", nil)), map[bool]string{true: "", false: "mallory@example.com"}[tc.anyTenant]},
				{"the v1 issuer", s.Sign(idClaims(base, "iss", "https://sts.windows.net/"+own+"/")), ""},
				{"another client", s.Sign(idClaims(base, "aud", "another-client")), ""},
				{"another key", other.Sign(idClaims(base)), ""},
			}
			if tc.anyTenant {
				// A pinned issuer is checked as it stands; only a template consults tid.
				cases = append(cases, struct{ name, raw, want string }{"iss of this tenant, tid of another", s.Sign(idClaims(base, "tid", elsewhere)), ""})
			}
			for _, cc := range cases {
				got, err := subjectOf(t, c, cfg, cc.raw)
				if got != cc.want || (err == nil) != (cc.want != "") {
					t.Errorf("%s: %q, %v; want %q", cc.name, got, err, cc.want)
				}
			}
		})
	}
}
