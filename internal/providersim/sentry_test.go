package providersim

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSentryPathsAndDeviceAnswer(t *testing.T) {
	s := start(t, Sentry, Options{})
	// Without the trailing slash there is no such page.
	a := post(t, s.URL()+"/oauth/device/code", url.Values{"client_id": {s.ClientID()}})
	if a.status != http.StatusNotFound || !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") {
		t.Errorf("no slash: %d %s", a.status, a.header.Get("Content-Type"))
	}
	a = post(t, s.DeviceAuthorizationURL(), url.Values{})
	if a.status != http.StatusUnauthorized || a.json["error"] != "invalid_client" {
		t.Errorf("no client_id: %d %v", a.status, a.json)
	}
	a = post(t, s.DeviceAuthorizationURL(), url.Values{"client_id": {s.ClientID()}, "scope": {"repo"}})
	if a.status != http.StatusBadRequest || a.json["error"] != "invalid_scope" {
		t.Errorf("unknown scope: %d %v", a.status, a.json)
	}

	c, cfg := clientFor(t, s, "")
	d, err := c.RequestDeviceCode(t.Context(), cfg, oauthScopes("org:read", "project:read"))
	if err != nil {
		t.Fatal(err)
	}
	if d.VerificationURI != s.URL()+"/oauth/device/" || d.VerificationURIComplete != d.VerificationURI+"?user_code="+d.UserCode ||
		d.ExpiresIn != 10*time.Minute || d.Interval != 2*time.Second {
		t.Errorf("device answer %+v (interval: 1s plus the preset's 1s margin)", d)
	}
	for _, r := range s.Requests() {
		if r.Endpoint == EndpointDevice && r.Status == 200 && (r.ClientAuth != "none" || !slices.Equal(r.Params, []string{"client_id", "scope"})) {
			t.Errorf("a public client sends client_id alone: %+v", r)
		}
	}
}

func TestSentryRateWindowAndErrorShape(t *testing.T) {
	s := start(t, Sentry, Options{RateWindow: time.Hour}) // one window for the whole test
	c, cfg := clientFor(t, s, "")
	d, err := c.RequestDeviceCode(t.Context(), cfg, oauthScopes("org:read"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PollToken(t.Context(), cfg, d.DeviceCode)
	wantCode(t, err, "authorization_pending", http.StatusBadRequest)
	_, err = c.PollToken(t.Context(), cfg, d.DeviceCode)
	wantCode(t, err, "slow_down", http.StatusBadRequest)
	if oe := oauthErr(t, err); oe.Description != "" || oe.Interval != 0 {
		t.Errorf("Sentry sends only the code: %+v", oe)
	}
	// Approval does not help a poll in the same window.
	if err := s.Approve(d.UserCode, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	a := post(t, s.TokenURL(), url.Values{"client_id": {s.ClientID()}, "grant_type": {DeviceGrantType}, "device_code": {d.DeviceCode}})
	if a.status != http.StatusBadRequest || len(a.json) != 1 || a.json["error"] != "slow_down" {
		t.Errorf("raw slow_down: %d %s", a.status, a.raw)
	}
	info, _ := s.Code(d.UserCode)
	if info.EarnedSlowDown != 2 || len(info.Polls) != 3 || info.Interval != time.Second {
		t.Errorf("code %+v: the window does not grow after slow_down", info)
	}
}

func TestSentryWindowAllowsOnePollPerWindow(t *testing.T) {
	s := start(t, Sentry, Options{RateWindow: 300 * time.Millisecond})
	c, cfg := clientFor(t, s, "")
	d, err := c.RequestDeviceCode(t.Context(), cfg, oauthScopes("org:read"))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_, err = c.PollToken(t.Context(), cfg, d.DeviceCode)
		wantCode(t, err, "authorization_pending", http.StatusBadRequest)
		time.Sleep(310 * time.Millisecond) // past the window, wherever it started
	}
	if s.EarnedSlowDowns() != 0 {
		t.Errorf("polls one window apart earned slow_down")
	}
}

func TestSentryClientAuthentication(t *testing.T) {
	s := start(t, Sentry, Options{ClientSecret: "sentry-secret"})
	form := url.Values{"grant_type": {DeviceGrantType}, "device_code": {"x"}, "client_id": {s.ClientID()}}
	a := post(t, s.TokenURL(), form, "Authorization", "Basic c2ltLWNsaWVudDpzZW50cnktc2VjcmV0") // sim-client:sentry-secret
	if a.status != http.StatusBadRequest || a.raw != "{\"error\":\"invalid_request\"}\n" {
		t.Errorf("Basic plus body credentials: %d %q", a.status, a.raw)
	}
	form.Del("client_id")
	a = post(t, s.TokenURL(), form, "Authorization", "Basic c2ltLWNsaWVudDpzZW50cnktc2VjcmV0")
	if a.json["error"] != "invalid_grant" {
		t.Errorf("Basic alone is accepted, then the code is unknown: %d %s", a.status, a.raw)
	}
	form.Set("client_id", s.ClientID())
	a = post(t, s.TokenURL(), form)
	if a.status != http.StatusUnauthorized || a.json["error"] != "invalid_client" || a.header.Get("WWW-Authenticate") == "" {
		t.Errorf("confidential application without its secret: %d %s", a.status, a.raw)
	}
	// The preset sends the secret in the body only.
	c, cfg := clientFor(t, s, "sentry-secret")
	tok := approved(t, s, c, cfg, "org:read")
	if tok.AccessToken == "" {
		t.Fatal("no token")
	}
	for _, r := range s.Requests() {
		if r.Endpoint == EndpointToken && r.Status == 200 && r.ClientAuth != "post" {
			t.Errorf("preset request authenticated with %s", r.ClientAuth)
		}
	}
}

func TestSentryTokenAnswerAndRotation(t *testing.T) {
	s := start(t, Sentry, Options{})
	c, cfg := clientFor(t, s, "")
	tok := approved(t, s, c, cfg, "org:read", "project:read")
	if tok.TokenType != "Bearer" || tok.Scope != "org:read project:read" || tok.ExpiresIn != 30*24*time.Hour ||
		tok.Extra["user"] != "alice@example.com" || tok.Extra["organization_id"] == "" || tok.Extra["expires_at"] == "" {
		t.Errorf("token %+v", tok)
	}
	if who, err := c.Subject(t.Context(), cfg, tok); err != nil || who != "alice@example.com" {
		t.Errorf("Subject = %q, %v", who, err)
	}

	// scope on refresh is refused.
	a := post(t, s.TokenURL(), url.Values{"client_id": {s.ClientID()}, "grant_type": {"refresh_token"},
		"refresh_token": {tok.RefreshToken}, "scope": {"org:read"}})
	if a.status != http.StatusBadRequest || a.json["error"] != "invalid_request" {
		t.Errorf("refresh with scope: %d %s", a.status, a.raw)
	}

	refreshed, err := c.Refresh(t.Context(), cfg, tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if !refreshed.Rotated || refreshed.AccessToken == tok.AccessToken || refreshed.Extra["user"] != "alice@example.com" {
		t.Errorf("refreshed %+v", refreshed)
	}
	if s.IsRefreshTokenValid(tok.RefreshToken) || s.IsAccessTokenValid(tok.AccessToken) {
		t.Error("the old tokens still work after the rotation")
	}
	if !s.IsRefreshTokenValid(refreshed.RefreshToken) || !s.IsAccessTokenValid(refreshed.AccessToken) {
		t.Error("the new tokens do not work")
	}
	for _, r := range s.Requests() {
		if r.GrantType == "refresh_token" && r.Status == 200 && slices.Contains(r.Params, "scope") {
			t.Error("the client sent scope on refresh")
		}
	}

	// Replaying the old refresh token revokes the whole family.
	_, err = c.Refresh(t.Context(), cfg, tok.RefreshToken)
	wantCode(t, err, "invalid_grant", http.StatusBadRequest)
	if s.IsRefreshTokenValid(refreshed.RefreshToken) || s.IsAccessTokenValid(refreshed.AccessToken) {
		t.Error("replay did not revoke the family")
	}
}
