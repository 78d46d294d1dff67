package testidp

import (
	"encoding/base64"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	testclock "k8s.io/utils/clock/testing"

	"github.com/devicelogin-dev/devicelogin-operator/internal/providersim"
)

func TestDeviceAuthorizationResponse(t *testing.T) {
	s := start(t, Options{Interval: time.Second})
	r := post(t, s.DeviceAuthorizationURL(), url.Values{"client_id": {"test-client"}, "scope": {"openid offline_access"}})
	wantOK(t, r)
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	if b, err := base64.RawURLEncoding.DecodeString(r.str("device_code")); err != nil || len(b) != 32 {
		t.Errorf("device_code %q is not 32 bytes base64url: %v", r.str("device_code"), err)
	}
	uc := r.str("user_code")
	if !regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`).MatchString(uc) {
		t.Errorf("user_code %q", uc)
	}
	if got := r.str("verification_uri"); got != s.URL()+"/device" {
		t.Errorf("verification_uri %q", got)
	}
	if got := r.str("verification_uri_complete"); got != s.URL()+"/device?user_code="+uc {
		t.Errorf("verification_uri_complete %q", got)
	}
	if r.json["expires_in"] != float64(300) || r.json["interval"] != float64(1) {
		t.Errorf("expires_in %v interval %v", r.json["expires_in"], r.json["interval"])
	}
	if got := pending(s); len(got) != 1 || got[0] != uc || info(t, s, uc).State != providersim.CodePending {
		t.Errorf("pending %v", got)
	}
	if dcs := s.DeviceCodes(); len(dcs) != 1 || dcs[0] != r.str("device_code") {
		t.Errorf("DeviceCodes %v", dcs)
	}
}

func TestOmitIntervalEnforcesFiveSeconds(t *testing.T) {
	fc := fakeClock()
	s := start(t, Options{Interval: time.Second, OmitInterval: true, Clock: fc})
	r := post(t, s.DeviceAuthorizationURL(), url.Values{"client_id": {"test-client"}})
	if _, ok := r.json["interval"]; ok {
		t.Fatalf("interval present: %s", r.body)
	}
	dc := r.str("device_code")
	wantError(t, poll(t, s, dc), 400, "authorization_pending")
	fc.Step(4 * time.Second)
	wantError(t, poll(t, s, dc), 400, "slow_down")
}

func TestFirstPollWait(t *testing.T) {
	fc := fakeClock()
	s := start(t, Options{Interval: time.Second, FirstPollWait: true, Clock: fc})
	d := authorize(t, s, "")
	wantError(t, poll(t, s, d.code), 400, "slow_down")
}

func TestDeviceGrantPolling(t *testing.T) {
	fc := fakeClock()
	s := start(t, Options{Interval: time.Second, Clock: fc})
	d := authorize(t, s, "openid offline_access")

	steps := []struct {
		name         string
		advance      time.Duration
		approve      bool
		wantErr      string // "" means tokens
		wantInterval time.Duration
	}{
		{"first poll is pending", 0, false, "authorization_pending", time.Second},
		{"early poll slows down and adds 5s", 0, false, "slow_down", 6 * time.Second},
		{"old interval no longer enough", time.Second, false, "slow_down", 11 * time.Second},
		{"raised interval respected", 11 * time.Second, false, "authorization_pending", 11 * time.Second},
		{"approved code yields tokens", 11 * time.Second, true, "", 11 * time.Second},
		{"code is consumed", 11 * time.Second, false, "invalid_grant", 11 * time.Second},
	}
	for _, st := range steps {
		fc.Step(st.advance)
		if st.approve {
			if err := s.Approve(strings.ToLower(strings.ReplaceAll(d.user, "-", "")), "alice@example.com"); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
		}
		r := poll(t, s, d.code)
		if st.wantErr != "" {
			wantError(t, r, 400, st.wantErr)
		} else {
			wantOK(t, r)
			if r.str("access_token") == "" || r.str("refresh_token") == "" || r.str("token_type") != "Bearer" ||
				r.json["expires_in"] != float64(3600) || r.str("scope") != "openid offline_access" {
				t.Fatalf("%s: token response %s", st.name, r.body)
			}
			if _, ok := r.json["id_token"]; ok {
				t.Errorf("%s: id_token without OIDC", st.name)
			}
		}
		if got := info(t, s, d.user).Interval; got != st.wantInterval {
			t.Fatalf("%s: interval %v, want %v", st.name, got, st.wantInterval)
		}
	}
	if s.Polls() != len(steps) || len(info(t, s, d.user).Polls) != len(steps) {
		t.Errorf("Polls %d, the code's %d, want %d", s.Polls(), len(info(t, s, d.user).Polls), len(steps))
	}
	if got := pending(s); len(got) != 0 {
		t.Errorf("pending after approval: %v", got)
	}
}

func TestDeviceGrantOutcomes(t *testing.T) {
	cases := []struct {
		name    string
		act     func(t *testing.T, s *Server, fc *testclock.FakeClock, d device)
		wantErr string
	}{
		{"pending", func(*testing.T, *Server, *testclock.FakeClock, device) {}, "authorization_pending"},
		{"denied", func(t *testing.T, s *Server, _ *testclock.FakeClock, d device) {
			if err := s.Deny(d.user); err != nil {
				t.Fatal(err)
			}
		}, "access_denied"},
		{"expired", func(t *testing.T, s *Server, fc *testclock.FakeClock, d device) {
			fc.Step(5 * time.Minute)
			if err := s.Approve(d.user, "alice"); err == nil {
				t.Error("Approve of an expired code succeeded")
			}
			if len(pending(s)) != 0 {
				t.Error("expired code still pending")
			}
		}, "expired_token"},
		{"approved then expired", func(t *testing.T, s *Server, fc *testclock.FakeClock, d device) {
			if err := s.Approve(d.user, "alice"); err != nil {
				t.Fatal(err)
			}
			fc.Step(5 * time.Minute)
		}, "expired_token"},
		{"unknown device code", func(_ *testing.T, _ *Server, _ *testclock.FakeClock, _ device) {}, "invalid_grant"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fc := fakeClock()
			s := start(t, Options{Interval: time.Second, Clock: fc})
			d := authorize(t, s, "")
			tc.act(t, s, fc, d)
			code := d.code
			if tc.name == "unknown device code" {
				code = "nope"
			}
			wantError(t, poll(t, s, code), 400, tc.wantErr)
		})
	}
	t.Run("double decision refused", func(t *testing.T) {
		s := start(t, Options{})
		d := authorize(t, s, "")
		if err := s.Deny(d.user); err != nil {
			t.Fatal(err)
		}
		if s.Approve(d.user, "alice") == nil || s.Approve("BBBB-BBBB", "alice") == nil || s.Approve(d.user, "") == nil {
			t.Error("Approve accepted a decided, unknown or subject-less code")
		}
	})
}

func TestTokenEndpointRequestErrors(t *testing.T) {
	s := start(t, Options{})
	cases := []struct {
		name string
		form url.Values
		code string
	}{
		{"missing grant_type", url.Values{"client_id": {"test-client"}}, "invalid_request"},
		{"unsupported grant", url.Values{"client_id": {"test-client"}, "grant_type": {"password"}}, "unsupported_grant_type"},
		{"missing device_code", url.Values{"client_id": {"test-client"}, "grant_type": {DeviceGrantType}}, "invalid_request"},
		{"missing refresh_token", url.Values{"client_id": {"test-client"}, "grant_type": {"refresh_token"}}, "invalid_request"},
		{"repeated parameter", url.Values{"client_id": {"test-client"}, "grant_type": {DeviceGrantType, DeviceGrantType}}, "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantError(t, post(t, s.TokenURL(), tc.form), 400, tc.code) })
	}
}
