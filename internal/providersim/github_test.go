package providersim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
)

func TestGitHubAnswersFormEncodedUnlessAskedForJSON(t *testing.T) {
	s := start(t, GitHub, Options{})
	a := post(t, s.DeviceAuthorizationURL(), url.Values{"client_id": {s.ClientID()}, "scope": {"repo read:org"}})
	if a.status != http.StatusOK || !strings.HasPrefix(a.header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		t.Fatalf("without Accept: %d %s %q", a.status, a.header.Get("Content-Type"), a.raw)
	}
	d, err := oauth.ParseDeviceAuthorizationResponse(a.status, a.header, []byte(a.raw))
	if err != nil {
		t.Fatal(err)
	}
	if d.VerificationURI != s.URL()+"/login/device" || d.Interval != time.Second || d.ExpiresIn != 15*time.Minute {
		t.Errorf("form answer parsed to %+v", d)
	}
	vals, _ := url.ParseQuery(a.raw)
	if vals.Get("interval") != "1" || vals.Get("expires_in") != "900" {
		t.Errorf("numbers as text: %v", vals)
	}
	// A form-encoded error with HTTP 200 is still an error.
	a = post(t, s.TokenURL(), url.Values{"client_id": {s.ClientID()}, "grant_type": {DeviceGrantType}, "device_code": {d.DeviceCode}})
	_, err = oauth.ParseTokenResponse(a.status, a.header, []byte(a.raw))
	wantCode(t, err, "authorization_pending", http.StatusOK)

	a = post(t, s.DeviceAuthorizationURL(), url.Values{"client_id": {s.ClientID()}}, "Accept", "application/json")
	if a.header.Get("Content-Type") != "application/json" || a.json["interval"] != float64(1) {
		t.Errorf("with Accept: %s %s", a.header.Get("Content-Type"), a.raw)
	}
}

func TestGitHubOAuthAppFlow(t *testing.T) {
	s := start(t, GitHub, Options{})
	c, cfg := clientFor(t, s, "")
	d, err := c.RequestDeviceCode(t.Context(), cfg, oauthScopes("repo", "read:org"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PollToken(t.Context(), cfg, d.DeviceCode)
	wantCode(t, err, "authorization_pending", http.StatusOK)
	_, err = c.PollToken(t.Context(), cfg, d.DeviceCode) // early
	if oe := wantCode(t, err, "slow_down", http.StatusOK); oe.Interval != 6*time.Second {
		t.Errorf("slow_down interval = %s, want the raised 6s from the answer", oe.Interval)
	}
	// A forced slow_down (a busy GitHub) raises the interval as well.
	forced := start(t, GitHub, Options{SlowDownStep: 6 * time.Second})
	c2, cfg2 := clientFor(t, forced, "")
	d2, err := c2.RequestDeviceCode(t.Context(), cfg2, oauthScopes("repo"))
	if err != nil {
		t.Fatal(err)
	}
	if err := forced.ForceSlowDown(d2.UserCode, 1); err != nil {
		t.Fatal(err)
	}
	_, err = c2.PollToken(t.Context(), cfg2, d2.DeviceCode)
	if oe := wantCode(t, err, "slow_down", http.StatusOK); oe.Interval != 7*time.Second {
		t.Errorf("forced slow_down interval = %s, want 1s + the 6s step", oe.Interval)
	}
	if info, _ := forced.Code(d2.UserCode); info.ForcedSlowDowns != 1 || info.EarnedSlowDown != 0 || info.Interval != 7*time.Second {
		t.Errorf("forced code: %+v", info)
	}

	tok := approved(t, s, c, cfg, "repo", "read:org")
	if !strings.HasPrefix(tok.AccessToken, "gho_") || tok.Scope != "repo read:org" || tok.ExpiresIn != 0 || tok.RefreshToken != "" ||
		tok.TokenType != "bearer" {
		t.Errorf("OAuth App token %+v (scope normalised from repo,read:org)", tok)
	}
	if !s.IsAccessTokenValid(tok.AccessToken) {
		t.Error("token not valid")
	}
	// No refresh for OAuth Apps.
	_, err = c.Refresh(t.Context(), cfg, "ghr_nothing")
	wantCode(t, err, "invalid_client", http.StatusOK)

	_, err = c.PollToken(t.Context(), cfg, "not-a-code")
	if oe := wantCode(t, err, "invalid_grant", http.StatusOK); oe.ProviderCode != "incorrect_device_code" {
		t.Errorf("unknown device code: %+v", oe)
	}
}

func TestGitHubAppExpiringTokens(t *testing.T) {
	s := start(t, GitHub, Options{ExpiringTokens: true, ClientSecret: "gh-secret"})
	c, cfg := clientFor(t, s, "gh-secret")
	tok := approved(t, s, c, cfg)
	if !strings.HasPrefix(tok.AccessToken, "ghu_") || !strings.HasPrefix(tok.RefreshToken, "ghr_") || tok.ExpiresIn != 8*time.Hour ||
		tok.Extra["refresh_token_expires_in"] != "15897600" {
		t.Errorf("GitHub App token %+v", tok)
	}
	refreshed, err := c.Refresh(t.Context(), cfg, tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if !refreshed.Rotated || refreshed.ExpiresIn != 8*time.Hour || s.IsRefreshTokenValid(tok.RefreshToken) || s.IsAccessTokenValid(tok.AccessToken) {
		t.Errorf("refresh: %+v; old refresh valid %v, old access valid %v", refreshed,
			s.IsRefreshTokenValid(tok.RefreshToken), s.IsAccessTokenValid(tok.AccessToken))
	}
	_, err = c.Refresh(t.Context(), cfg, tok.RefreshToken)
	if oe := wantCode(t, err, "invalid_grant", http.StatusOK); oe.ProviderCode != "bad_refresh_token" {
		t.Errorf("reused refresh token: %+v", oe)
	}
	// Refreshing needs the client secret.
	_, public := clientFor(t, s, "")
	_, err = c.Refresh(t.Context(), public, refreshed.RefreshToken)
	wantCode(t, err, "invalid_client", http.StatusOK)
	// A wrong secret is refused everywhere, with HTTP 200 at the token endpoint.
	_, wrong := clientFor(t, s, "wrong")
	_, err = c.PollToken(t.Context(), wrong, "x")
	if oe := wantCode(t, err, "invalid_client", http.StatusOK); oe.ProviderCode != "incorrect_client_credentials" {
		t.Errorf("wrong secret: %+v", oe)
	}
}

func TestGitHubDeviceFlowDisabled(t *testing.T) {
	s := start(t, GitHub, Options{DeviceFlowDisabled: true})
	c, cfg := clientFor(t, s, "")
	_, err := c.RequestDeviceCode(t.Context(), cfg, oauthScopes("repo"))
	oe := wantCode(t, err, "device_flow_disabled", http.StatusBadRequest)
	if !strings.Contains(oe.Error(), "Device Flow must be explicitly enabled") {
		t.Errorf("message: %v", oe)
	}
}
