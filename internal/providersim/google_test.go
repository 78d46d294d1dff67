package providersim

import (
	"net/http"
	"testing"
	"time"
)

func TestGoogleDeviceAnswerAndPolling(t *testing.T) {
	s := start(t, Google, Options{ClientSecret: "g-secret"})
	c, cfg := clientFor(t, s, "g-secret")
	d, err := c.RequestDeviceCode(t.Context(), cfg, oauthScopes("openid", "email"))
	if err != nil {
		t.Fatal(err)
	}
	if d.VerificationURI != "https://www.google.com/device" || d.VerificationURIComplete != "" || d.ExpiresIn != 30*time.Minute {
		t.Errorf("device answer %+v (verification_url read as the verification URI)", d)
	}

	// Without the secret, polling is refused.
	_, public := clientFor(t, s, "")
	_, err = c.PollToken(t.Context(), public, d.DeviceCode)
	if oe := wantCode(t, err, "invalid_request", http.StatusBadRequest); oe.Description != "client_secret is missing." {
		t.Errorf("no secret: %+v", oe)
	}

	_, err = c.PollToken(t.Context(), cfg, d.DeviceCode)
	wantCode(t, err, "authorization_pending", http.StatusPreconditionRequired)
	_, err = c.PollToken(t.Context(), cfg, d.DeviceCode)
	wantCode(t, err, "slow_down", http.StatusForbidden)

	denied, err := c.RequestDeviceCode(t.Context(), cfg, oauthScopes("email"))
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Deny(denied.UserCode)
	_, err = c.PollToken(t.Context(), cfg, denied.DeviceCode)
	wantCode(t, err, "access_denied", http.StatusForbidden)

	expired, err := c.RequestDeviceCode(t.Context(), cfg, oauthScopes("email"))
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Expire(expired.UserCode)
	_, err = c.PollToken(t.Context(), cfg, expired.DeviceCode)
	wantCode(t, err, "expired_token", http.StatusBadRequest)
}

func TestGoogleTokensAreNotRotated(t *testing.T) {
	s := start(t, Google, Options{ClientSecret: "g-secret"})
	c, cfg := clientFor(t, s, "g-secret")
	tok := approved(t, s, c, cfg, "openid", "email")
	if tok.Scope != "openid https://www.googleapis.com/auth/userinfo.email" || tok.IDToken == "" || tok.RefreshToken == "" ||
		tok.ExpiresIn != 3599*time.Second || tok.TokenType != "Bearer" {
		t.Errorf("token %+v", tok)
	}
	for range 2 {
		refreshed, err := c.Refresh(t.Context(), cfg, tok.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if refreshed.Rotated || refreshed.RefreshToken != tok.RefreshToken || refreshed.AccessToken == tok.AccessToken {
			t.Errorf("refreshed %+v", refreshed)
		}
	}
	if !s.IsRefreshTokenValid(tok.RefreshToken) || !s.IsAccessTokenValid(tok.AccessToken) {
		t.Error("Google keeps both the refresh token and earlier access tokens valid")
	}
	if err := c.Revoke(t.Context(), cfg, tok.RefreshToken, "refresh_token"); err != nil {
		t.Fatal(err)
	}
	_, err := c.Refresh(t.Context(), cfg, tok.RefreshToken)
	if oe := wantCode(t, err, "invalid_grant", http.StatusBadRequest); oe.Description != "Token has been expired or revoked." {
		t.Errorf("revoked: %+v", oe)
	}
}

// TestGoogleIDTokenNamesWhoApproved verifies the simulation's ID tokens as the operator does, with
// the preset's fixed issuer and the keys under issuerURL: the email names who approved, and a
// token from another issuer, for another client or signed with another key names nobody.
func TestGoogleIDTokenNamesWhoApproved(t *testing.T) {
	s := start(t, Google, Options{ClientSecret: "g-secret"})
	c, cfg := clientFor(t, s, "g-secret")
	if cfg.Endpoints.Issuer != GoogleIssuer || cfg.Endpoints.JWKSURL != s.URL()+"/oauth2/v3/certs" {
		t.Fatalf("preset endpoints %+v", cfg.Endpoints)
	}
	tok := approved(t, s, c, cfg, "openid", "email")
	if got, err := subjectOf(t, c, cfg, tok.IDToken); got != "alice@example.com" || err != nil {
		t.Errorf("approved: %q, %v", got, err)
	}
	other := start(t, Google, Options{})
	base := map[string]any{"iss": GoogleIssuer, "aud": s.ClientID(), "email": "mallory@example.com"}
	tests := []struct {
		name, raw, want string
	}{
		{"iss without the scheme, as Google also writes it", s.Sign(idClaims(base, "iss", "accounts.google.com")), "mallory@example.com"},
		{"another issuer", s.Sign(idClaims(base, "iss", s.URL())), ""},
		{"another client", s.Sign(idClaims(base, "aud", "another-client")), ""},
		{"another key", other.Sign(idClaims(base)), ""},
		{"expired", s.Sign(idClaims(base, "exp", time.Now().Add(-time.Minute).Unix())), ""},
	}
	for _, tc := range tests {
		got, err := subjectOf(t, c, cfg, tc.raw)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}
