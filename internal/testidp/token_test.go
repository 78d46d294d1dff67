package testidp

import (
	"net/url"
	"testing"
	"time"
)

func TestRefresh(t *testing.T) {
	t.Run("rotation", func(t *testing.T) {
		fc := fakeClock()
		s := start(t, Options{Clock: fc})
		first := login(t, s, "offline_access email")
		r := refresh(t, s, first.str("refresh_token"), nil)
		wantOK(t, r)
		if r.str("access_token") == first.str("access_token") || r.str("refresh_token") == "" ||
			r.str("refresh_token") == first.str("refresh_token") {
			t.Fatalf("no rotation: %s", r.body)
		}
		if s.IsRefreshTokenValid(first.str("refresh_token")) || !s.IsRefreshTokenValid(r.str("refresh_token")) {
			t.Error("validity after rotation wrong")
		}
		wantError(t, refresh(t, s, first.str("refresh_token"), nil), 400, "invalid_grant")
		narrowed := refresh(t, s, r.str("refresh_token"), url.Values{"scope": {"email"}})
		wantOK(t, narrowed)
		if narrowed.str("scope") != "email" {
			t.Errorf("narrowed scope %q", narrowed.str("scope"))
		}
		wantError(t, refresh(t, s, narrowed.str("refresh_token"), url.Values{"scope": {"email admin"}}), 400, "invalid_scope")
		if len(s.AccessTokens()) != 3 || len(s.RefreshTokens()) != 3 {
			t.Errorf("issued %d access, %d refresh", len(s.AccessTokens()), len(s.RefreshTokens()))
		}
	})
	t.Run("no rotation", func(t *testing.T) {
		fc := fakeClock()
		s := start(t, Options{Clock: fc, NoRotation: true})
		rt := login(t, s, "").str("refresh_token")
		for i := 0; i < 2; i++ {
			r := refresh(t, s, rt, nil)
			wantOK(t, r)
			if _, ok := r.json["refresh_token"]; ok {
				t.Fatalf("new refresh token without rotation: %s", r.body)
			}
		}
	})
	t.Run("no refresh token", func(t *testing.T) {
		fc := fakeClock()
		s := start(t, Options{Clock: fc, NoRefreshToken: true, NoExpiry: true})
		r := login(t, s, "offline_access")
		if _, ok := r.json["refresh_token"]; ok {
			t.Errorf("refresh_token issued: %s", r.body)
		}
		if _, ok := r.json["expires_in"]; ok {
			t.Errorf("expires_in with NoExpiry: %s", r.body)
		}
		fc.Step(100 * time.Hour)
		if !s.IsAccessTokenValid(r.str("access_token")) {
			t.Error("NoExpiry token expired")
		}
	})
	t.Run("invalidated", func(t *testing.T) {
		fc := fakeClock()
		s := start(t, Options{Clock: fc})
		rt := login(t, s, "").str("refresh_token")
		s.InvalidateRefreshTokens()
		wantError(t, refresh(t, s, rt, nil), 400, "invalid_grant")
		wantError(t, refresh(t, s, "garbage", nil), 400, "invalid_grant")
	})
}

func TestRevocation(t *testing.T) {
	fc := fakeClock()
	s := start(t, Options{Clock: fc})
	revoke := func(tok string) {
		t.Helper()
		r := post(t, s.RevocationURL(), url.Values{"token": {tok}, "client_id": {"test-client"}})
		wantOK(t, r)
	}
	a := login(t, s, "")
	revoke(a.str("access_token"))
	if s.IsAccessTokenValid(a.str("access_token")) || !s.IsRefreshTokenValid(a.str("refresh_token")) {
		t.Error("access revocation wrong")
	}
	wantError(t, get(t, s.UserinfoURL(), bearer(a.str("access_token"))), 401, "invalid_token")

	b := login(t, s, "")
	revoke(b.str("refresh_token"))
	if s.IsRefreshTokenValid(b.str("refresh_token")) || s.IsAccessTokenValid(b.str("access_token")) {
		t.Error("refresh revocation must invalidate the refresh token and its access tokens")
	}
	wantError(t, refresh(t, s, b.str("refresh_token"), nil), 400, "invalid_grant")

	revoke("never-issued")
	wantError(t, post(t, s.RevocationURL(), url.Values{"client_id": {"test-client"}}), 400, "invalid_request")
	wantError(t, post(t, s.RevocationURL(), url.Values{"token": {"x"}}), 401, "invalid_client")
	if got := s.Revoked(); len(got) != 3 || got[0] != a.str("access_token") || got[2] != "never-issued" {
		t.Errorf("Revoked %v", got)
	}
}

func TestUserinfo(t *testing.T) {
	fc := fakeClock()
	s := start(t, Options{Clock: fc, TokenLifetime: time.Minute})
	at := login(t, s, "").str("access_token")

	r := get(t, s.UserinfoURL(), bearer(at))
	wantOK(t, r)
	if r.str("sub") != "alice@example.com" || r.str("email") != "alice@example.com" {
		t.Errorf("userinfo %s", r.body)
	}
	if r := get(t, s.UserinfoURL()); r.status != 401 || r.header.Get("WWW-Authenticate") == "" {
		t.Errorf("no token: %d %v", r.status, r.header)
	}
	if r := get(t, s.UserinfoURL()+"?access_token="+at); r.status != 401 {
		t.Errorf("token in query accepted: %d", r.status)
	}
	fc.Step(time.Minute)
	wantError(t, get(t, s.UserinfoURL(), bearer(at)), 401, "invalid_token")

	at2 := login(t, s, "").str("access_token")
	s.ExpireAccessTokens()
	if s.IsAccessTokenValid(at2) {
		t.Error("ExpireAccessTokens left a valid token")
	}
}
