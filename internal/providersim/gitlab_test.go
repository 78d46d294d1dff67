package providersim

import (
	"net/http"
	"testing"
	"time"

	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
)

func TestGitLabDiscoveryAndSubject(t *testing.T) {
	s := start(t, GitLab, Options{})
	c, cfg := clientFor(t, s, "")
	found, err := oauth.Discover(t.Context(), oauth.NewHTTPClient(oauth.HTTPOptions{}), s.URL())
	if err != nil {
		t.Fatal(err)
	}
	if found.Issuer != s.URL() || found.DeviceAuthorizationURL != cfg.Endpoints.DeviceAuthorizationURL ||
		found.TokenURL != cfg.Endpoints.TokenURL || found.RevocationURL != cfg.Endpoints.RevocationURL ||
		found.JWKSURL != s.URL()+"/oauth/discovery/keys" || found.UserinfoURL != s.URL()+"/oauth/userinfo" {
		t.Errorf("discovered %+v", found)
	}
	cfg.Endpoints = found

	d, err := c.RequestDeviceCode(t.Context(), cfg, oauthScopes("openid", "email", "read_api"))
	if err != nil {
		t.Fatal(err)
	}
	if d.VerificationURI != s.URL()+"/oauth/device" || d.VerificationURIComplete != d.VerificationURI+"?user_code="+d.UserCode ||
		d.ExpiresIn != 5*time.Minute {
		t.Errorf("device answer %+v", d)
	}
	_, err = c.PollToken(t.Context(), cfg, d.DeviceCode)
	wantCode(t, err, "authorization_pending", http.StatusBadRequest)
	_, err = c.PollToken(t.Context(), cfg, d.DeviceCode)
	wantCode(t, err, "slow_down", http.StatusBadRequest)

	tok := approved(t, s, c, cfg, "openid", "email", "read_api")
	if tok.IDToken == "" || tok.ExpiresIn != 2*time.Hour || tok.Extra["created_at"] == "" {
		t.Errorf("token %+v", tok)
	}
	if who, err := c.Subject(t.Context(), cfg, tok); err != nil || who != "alice@example.com" {
		t.Errorf("Subject from the verified ID token = %q, %v", who, err)
	}
	noOIDC := approved(t, s, c, cfg, "read_api")
	if who, err := c.Subject(t.Context(), cfg, noOIDC); err != nil || who != "alice@example.com" {
		t.Errorf("Subject from userinfo = %q, %v", who, err)
	}

	refreshed, err := c.Refresh(t.Context(), cfg, tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if !refreshed.Rotated || s.IsRefreshTokenValid(tok.RefreshToken) || s.IsAccessTokenValid(tok.AccessToken) {
		t.Errorf("rotation: %+v", refreshed)
	}
	_, err = c.Refresh(t.Context(), cfg, tok.RefreshToken)
	wantCode(t, err, "invalid_grant", http.StatusBadRequest)
}

func TestGitLabConfidentialApplicationNeedsItsSecret(t *testing.T) {
	s := start(t, GitLab, Options{ClientSecret: "gl-secret"})
	c, public := clientFor(t, s, "")
	_, err := c.RequestDeviceCode(t.Context(), public, oauthScopes("read_api"))
	wantCode(t, err, "invalid_client", http.StatusUnauthorized)
	_, cfg := clientFor(t, s, "gl-secret")
	if tok := approved(t, s, c, cfg, "read_api"); tok.AccessToken == "" {
		t.Error("no token")
	}
	_, err = c.RequestDeviceCode(t.Context(), cfg, oauthScopes("repo"))
	wantCode(t, err, "invalid_scope", http.StatusBadRequest)
}
