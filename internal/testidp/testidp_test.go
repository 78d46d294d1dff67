package testidp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	testclock "k8s.io/utils/clock/testing"
)

// --- helpers ---------------------------------------------------------------

type response struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func (r response) str(k string) string { s, _ := r.json[k].(string); return s }

func newClient(timeout time.Duration) *http.Client {
	// No keep-alive: a reused connection could make the transport retry a
	// request after a fault and skew the request counts.
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
}

func start(t *testing.T, o Options) *Server {
	t.Helper()
	s := New(o)
	t.Cleanup(s.Close)
	return s
}

func do(t *testing.T, req *http.Request) response {
	t.Helper()
	res, err := newClient(5 * time.Second).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	r := response{status: res.StatusCode, header: res.Header, body: body}
	_ = json.Unmarshal(body, &r.json)
	return r
}

func post(t *testing.T, u string, form url.Values, mod ...func(*http.Request)) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, m := range mod {
		m(req)
	}
	return do(t, req)
}

func get(t *testing.T, u string, mod ...func(*http.Request)) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mod {
		m(req)
	}
	return do(t, req)
}

func bearer(tok string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

// basic encodes as RFC 6749 2.3.1 requires: form-urlencode, then base64.
func basic(id, secret string) func(*http.Request) {
	return func(r *http.Request) {
		raw := url.QueryEscape(id) + ":" + url.QueryEscape(secret)
		r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(raw)))
	}
}

func wantOK(t *testing.T, r response) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", r.status, r.body)
	}
}

// wantError checks an RFC 6749 5.2 error response.
func wantError(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.status != status || r.str("error") != code {
		t.Fatalf("got %d %q, want %d %q; body %s", r.status, r.str("error"), status, code, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	if r.str("error_description") == "" {
		t.Errorf("no error_description")
	}
}

type device struct{ code, user string }

func authorize(t *testing.T, s *Server, scope string) device {
	t.Helper()
	r := post(t, s.DeviceAuthorizationURL(), url.Values{"client_id": {"test-client"}, "scope": {scope}})
	wantOK(t, r)
	return device{code: r.str("device_code"), user: r.str("user_code")}
}

func poll(t *testing.T, s *Server, dc string) response {
	t.Helper()
	return post(t, s.TokenURL(), url.Values{
		"grant_type": {DeviceGrantType}, "device_code": {dc}, "client_id": {"test-client"},
	})
}

func refresh(t *testing.T, s *Server, rt string, extra url.Values) response {
	t.Helper()
	f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"test-client"}}
	for k, v := range extra {
		f[k] = v
	}
	return post(t, s.TokenURL(), f)
}

// login runs a whole device flow on a fake clock and returns the tokens.
func login(t *testing.T, s *Server, scope string) response {
	t.Helper()
	d := authorize(t, s, scope)
	if err := s.Approve(d.user, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	r := poll(t, s, d.code)
	wantOK(t, r)
	return r
}

func fakeClock() *testclock.FakeClock { return testclock.NewFakeClock(time.Now()) }

// --- device authorization ---------------------------------------------------

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
	if got := s.PendingUserCodes(); len(got) != 1 || got[0] != uc || s.LastUserCode() != uc {
		t.Errorf("PendingUserCodes %v LastUserCode %q", got, s.LastUserCode())
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

// --- device grant -----------------------------------------------------------

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
		if got := s.Interval(d.code); got != st.wantInterval {
			t.Fatalf("%s: interval %v, want %v", st.name, got, st.wantInterval)
		}
	}
	if s.Polls() != len(steps) || s.PollCount(d.code) != len(steps) {
		t.Errorf("Polls %d PollCount %d, want %d", s.Polls(), s.PollCount(d.code), len(steps))
	}
	if len(s.PendingUserCodes()) != 0 {
		t.Errorf("pending after approval: %v", s.PendingUserCodes())
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
			if len(s.PendingUserCodes()) != 0 {
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

// --- refresh ----------------------------------------------------------------

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

// --- client authentication and transport rules ------------------------------

func TestClientAuthentication(t *testing.T) {
	const secret = "s3cr:et/+ x"
	public := start(t, Options{})
	confidential := start(t, Options{ClientSecret: secret, ClientID: "conf"})
	lenient := start(t, Options{ClientSecret: secret, ClientID: "conf", DeviceAuthClientIDOnly: true})

	cases := []struct {
		name     string
		s        *Server
		form     url.Values
		mod      func(*http.Request)
		status   int
		code     string
		wantAuth string
	}{
		{"public ok", public, url.Values{"client_id": {"test-client"}}, nil, 200, "", AuthNone},
		{"public basic empty secret ok", public, url.Values{}, basic("test-client", ""), 200, "", AuthBasic},
		{"public wrong client", public, url.Values{"client_id": {"other"}}, nil, 401, "invalid_client", AuthNone},
		{"public missing client_id", public, url.Values{}, nil, 401, "invalid_client", AuthNone},
		{"public sends secret", public, url.Values{"client_id": {"test-client"}, "client_secret": {"x"}}, nil, 401, "invalid_client", AuthPost},
		{"confidential basic ok", confidential, url.Values{}, basic("conf", secret), 200, "", AuthBasic},
		{"confidential post ok", confidential, url.Values{"client_id": {"conf"}, "client_secret": {secret}}, nil, 200, "", AuthPost},
		{"confidential both refused", confidential, url.Values{"client_id": {"conf"}, "client_secret": {secret}}, basic("conf", secret), 400, "invalid_request", AuthBoth},
		{"confidential no secret", confidential, url.Values{"client_id": {"conf"}}, nil, 401, "invalid_client", AuthNone},
		{"confidential wrong secret", confidential, url.Values{}, basic("conf", "nope"), 401, "invalid_client", AuthBasic},
		{"confidential secret not urlencoded", confidential, url.Values{}, func(r *http.Request) { r.SetBasicAuth("conf", "%zz") }, 401, "invalid_client", AuthBasic},
		{"client_id only allowed by option", lenient, url.Values{"client_id": {"conf"}}, nil, 200, "", AuthNone},
		{"option still checks a sent secret", lenient, url.Values{"client_id": {"conf"}, "client_secret": {"x"}}, nil, 401, "invalid_client", AuthPost},
		{"confidential body id differs", confidential, url.Values{"client_id": {"other"}}, basic("conf", secret), 401, "invalid_client", AuthBasic},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(tc.s.Requests())
			var mods []func(*http.Request)
			if tc.mod != nil {
				mods = append(mods, tc.mod)
			}
			r := post(t, tc.s.DeviceAuthorizationURL(), tc.form, mods...)
			if tc.code == "" {
				wantOK(t, r)
			} else {
				wantError(t, r, tc.status, tc.code)
			}
			if tc.status == 401 && tc.wantAuth == AuthBasic && r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 after Basic without WWW-Authenticate")
			}
			reqs := tc.s.Requests()
			if len(reqs) != before+1 || reqs[before].ClientAuth != tc.wantAuth || reqs[before].Endpoint != EndpointDevice {
				t.Errorf("recorded %+v, want one device request with auth %q", reqs[before:], tc.wantAuth)
			}
		})
	}
}

func TestTransportRules(t *testing.T) {
	s := start(t, Options{})
	form := url.Values{"client_id": {"test-client"}}.Encode()
	mk := func(method, u, ctype, body string) *http.Request {
		req, _ := http.NewRequest(method, u, strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		return req
	}
	for _, ep := range []string{s.DeviceAuthorizationURL(), s.TokenURL(), s.RevocationURL()} {
		cases := []struct {
			name   string
			req    *http.Request
			status int
		}{
			{"GET", mk(http.MethodGet, ep+"?"+form, "", ""), 405},
			{"JSON body", mk(http.MethodPost, ep, "application/json", `{"client_id":"test-client"}`), 400},
			{"no content type", mk(http.MethodPost, ep, "", form), 400},
			{"query parameters", mk(http.MethodPost, ep+"?"+form, "application/x-www-form-urlencoded", form), 400},
			{"malformed body", mk(http.MethodPost, ep, "application/x-www-form-urlencoded", form+"&x=%zz"), 400},
			{"oversized body", mk(http.MethodPost, ep, "application/x-www-form-urlencoded", form+"&x="+strings.Repeat("a", 70<<10)), 400},
		}
		for _, tc := range cases {
			t.Run(ep[len(s.URL()):]+" "+tc.name, func(t *testing.T) {
				wantError(t, do(t, tc.req), tc.status, "invalid_request")
			})
		}
	}
}

// --- revocation and userinfo -------------------------------------------------

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

// --- OIDC ---------------------------------------------------------------------

func TestOIDC(t *testing.T) {
	s := start(t, Options{OIDC: true, ClientSecret: "pw"})
	doc := get(t, s.URL()+"/.well-known/openid-configuration")
	wantOK(t, doc)
	for k, want := range map[string]string{
		"issuer":                        s.URL(),
		"device_authorization_endpoint": s.DeviceAuthorizationURL(),
		"token_endpoint":                s.TokenURL(),
		"revocation_endpoint":           s.RevocationURL(),
		"userinfo_endpoint":             s.UserinfoURL(),
		"jwks_uri":                      s.URL() + "/keys",
	} {
		if got := doc.str(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if g, _ := doc.json["grant_types_supported"].([]any); len(g) != 2 || g[0] != DeviceGrantType {
		t.Errorf("grant_types_supported %v", doc.json["grant_types_supported"])
	}
	if r := get(t, s.URL()+"/.well-known/oauth-authorization-server"); r.status != 404 {
		t.Errorf("RFC 8414 document served without the option: %d", r.status)
	}

	d := post(t, s.DeviceAuthorizationURL(), url.Values{"scope": {"openid email"}}, basic("test-client", "pw"))
	if err := s.Approve(d.str("user_code"), "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	tok := post(t, s.TokenURL(), url.Values{"grant_type": {DeviceGrantType}, "device_code": {d.str("device_code")}}, basic("test-client", "pw"))
	wantOK(t, tok)

	jws, err := jose.ParseSignedCompact(tok.str("id_token"), []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("parsing id_token: %v", err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(get(t, doc.str("jwks_uri")).body, &set); err != nil {
		t.Fatal(err)
	}
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in JWKS", jws.Signatures[0].Header.KeyID)
	}
	payload, err := jws.Verify(keys[0].Key)
	if err != nil {
		t.Fatalf("id_token does not verify against the JWKS: %v", err)
	}
	var c struct {
		Iss, Aud, Sub, Email string
		Exp, Iat             int64
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	if c.Iss != s.URL() || c.Aud != "test-client" || c.Sub != "bob@example.com" || c.Email != "bob@example.com" || c.Exp <= c.Iat {
		t.Errorf("claims %+v", c)
	}

	// No openid scope, no ID token.
	d2 := post(t, s.DeviceAuthorizationURL(), url.Values{"client_id": {"test-client"}, "client_secret": {"pw"}})
	_ = s.Approve(d2.str("user_code"), "bob")
	tok2 := post(t, s.TokenURL(), url.Values{"grant_type": {DeviceGrantType}, "device_code": {d2.str("device_code")}}, basic("test-client", "pw"))
	if _, ok := tok2.json["id_token"]; ok {
		t.Errorf("id_token without openid scope")
	}
}

func TestRFC8414Discovery(t *testing.T) {
	s := start(t, Options{RFC8414: true})
	r := get(t, s.URL()+"/.well-known/oauth-authorization-server")
	wantOK(t, r)
	if r.str("issuer") != s.URL() || r.str("device_authorization_endpoint") != s.DeviceAuthorizationURL() {
		t.Errorf("metadata %s", r.body)
	}
	if get(t, s.URL()+"/.well-known/openid-configuration").status != 404 {
		t.Error("OIDC document served without the option")
	}
	if s.Count(EndpointDiscovery) != 2 {
		t.Errorf("discovery count %d", s.Count(EndpointDiscovery))
	}
}

// --- approval pages ------------------------------------------------------------

func TestApprovalPages(t *testing.T) {
	fc := fakeClock()
	s := start(t, Options{Clock: fc})
	d := post(t, s.DeviceAuthorizationURL(), url.Values{"client_id": {"test-client"}})
	page := get(t, d.str("verification_uri_complete"))
	wantOK(t, page)
	if !strings.Contains(string(page.body), d.str("user_code")) {
		t.Fatalf("page lacks the user code: %s", page.body)
	}
	approve := func(code, action string) response {
		return post(t, s.URL()+"/device/approve", url.Values{"user_code": {code}, "subject": {"carol"}, "action": {action}})
	}
	if r := approve("ZZZZ-ZZZZ", "approve"); r.status != 400 {
		t.Errorf("unknown code: %d", r.status)
	}
	wantOK(t, approve(d.str("user_code"), "approve"))
	r := poll(t, s, d.str("device_code"))
	wantOK(t, r)
	if ui := get(t, s.UserinfoURL(), bearer(r.str("access_token"))); ui.str("sub") != "carol" {
		t.Errorf("userinfo %s", ui.body)
	}

	d2 := post(t, s.DeviceAuthorizationURL(), url.Values{"client_id": {"test-client"}})
	wantOK(t, approve(d2.str("user_code"), "deny"))
	wantError(t, poll(t, s, d2.str("device_code")), 400, "access_denied")
}

// --- faults ---------------------------------------------------------------------

func TestFaults(t *testing.T) {
	cases := []struct {
		fault   Fault
		timeout time.Duration
		check   func(t *testing.T, res *http.Response, err error)
	}{
		{FaultDown, time.Second, func(t *testing.T, res *http.Response, err error) {
			if err == nil {
				t.Fatalf("got a response: %d", res.StatusCode)
			}
		}},
		{Fault500, time.Second, wantStatus(500, "")}, //nolint:bodyclose // the loop below closes the body
		{Fault429, time.Second, func(t *testing.T, res *http.Response, err error) {
			wantStatus(429, "")(t, res, err) //nolint:bodyclose // the loop below closes the body
			if res.Header.Get("Retry-After") != "2" {
				t.Errorf("Retry-After %q", res.Header.Get("Retry-After"))
			}
		}},
		{FaultHang, 200 * time.Millisecond, func(t *testing.T, _ *http.Response, err error) {
			if err == nil || !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "Timeout") {
				t.Fatalf("want a client timeout, got %v", err)
			}
		}},
		{FaultHTML, time.Second, func(t *testing.T, res *http.Response, err error) {
			wantStatus(200, "text/html")(t, res, err) //nolint:bodyclose // the loop below closes the body
		}},
		{FaultGarbage, time.Second, func(t *testing.T, res *http.Response, err error) {
			wantStatus(200, "application/json")(t, res, err) //nolint:bodyclose // the loop below closes the body
			b, _ := io.ReadAll(res.Body)
			if json.Valid(b) {
				t.Errorf("garbage is valid JSON: %q", b)
			}
		}},
		{FaultHuge, 5 * time.Second, func(t *testing.T, res *http.Response, err error) {
			wantStatus(200, "application/json")(t, res, err) //nolint:bodyclose // the loop below closes the body
			n, err := io.Copy(io.Discard, res.Body)
			if err != nil || n != HugeBodySize {
				t.Errorf("read %d bytes (%v), want %d", n, err, HugeBodySize)
			}
		}},
		{FaultTrickle, 800 * time.Millisecond, func(t *testing.T, res *http.Response, err error) {
			wantStatus(200, "application/json")(t, res, err) //nolint:bodyclose // the loop below closes the body
			b, err := io.ReadAll(res.Body)
			if err == nil || len(b) < 1 || len(b) > 2 {
				t.Errorf("read %q (%v), want a byte or two then a timeout", b, err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(string(tc.fault), func(t *testing.T) {
			s := start(t, Options{})
			s.SetFault(EndpointToken, tc.fault)
			began := time.Now()
			req, _ := http.NewRequest(http.MethodPost, s.TokenURL(), strings.NewReader(url.Values{"grant_type": {"refresh_token"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			res, err := newClient(tc.timeout).Do(req)
			if res != nil {
				defer res.Body.Close()
			}
			tc.check(t, res, err)
			if d := time.Since(began); d > 1500*time.Millisecond && tc.fault != FaultHuge {
				t.Errorf("took %v", d)
			}
			reqs := s.Requests()
			if len(reqs) != 1 || reqs[0].Fault != tc.fault || reqs[0].GrantType != "refresh_token" {
				t.Errorf("recorded %+v", reqs)
			}
			// Other endpoints are unaffected.
			wantOK(t, post(t, s.DeviceAuthorizationURL(), url.Values{"client_id": {"test-client"}}))
		})
	}
}

func wantStatus(code int, ctype string) func(*testing.T, *http.Response, error) {
	return func(t *testing.T, res *http.Response, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != code || !strings.HasPrefix(res.Header.Get("Content-Type"), ctype) {
			t.Fatalf("got %d %q, want %d %q", res.StatusCode, res.Header.Get("Content-Type"), code, ctype)
		}
	}
}

func TestHugeWithLimitedReader(t *testing.T) {
	s := start(t, Options{})
	s.SetFault(EndpointAll, FaultHuge)
	res, err := newClient(time.Second).Get(s.URL() + "/keys")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20+1))
	res.Body.Close()
	if len(b) != 1<<20+1 {
		t.Errorf("read %d", len(b))
	}
}

func TestFaultScopeAndToggle(t *testing.T) {
	s := start(t, Options{})
	s.SetFault(EndpointAll, Fault500)
	s.SetFault(EndpointToken, Fault429)
	if r := post(t, s.DeviceAuthorizationURL(), url.Values{"client_id": {"test-client"}}); r.status != 500 {
		t.Errorf("all: device got %d", r.status)
	}
	if r := post(t, s.TokenURL(), url.Values{}); r.status != 429 {
		t.Errorf("token's own fault should win: %d", r.status)
	}
	s.SetFault(EndpointAll, FaultNone)
	s.SetFault(EndpointToken, FaultNone)
	wantOK(t, post(t, s.DeviceAuthorizationURL(), url.Values{"client_id": {"test-client"}}))
	if s.Count(EndpointDevice) != 2 || s.Count(EndpointToken) != 1 {
		t.Errorf("counts device %d token %d", s.Count(EndpointDevice), s.Count(EndpointToken))
	}
	defer func() {
		if recover() == nil {
			t.Error("SetFault accepted an unknown endpoint")
		}
	}()
	s.SetFault("tokne", FaultDown)
}

// TestCloseReleasesStuckHandlers: a client with no timeout must not keep a
// hanging or trickling handler (and Close) alive.
func TestCloseReleasesStuckHandlers(t *testing.T) {
	for _, f := range []Fault{FaultHang, FaultTrickle} {
		t.Run(string(f), func(t *testing.T) {
			s := New(Options{})
			s.SetFault(EndpointToken, f)
			done := make(chan error, 1)
			go func() {
				res, err := newClient(0).Post(s.TokenURL(), "application/x-www-form-urlencoded", strings.NewReader("grant_type=x"))
				if err == nil {
					_, err = io.ReadAll(res.Body)
					res.Body.Close()
				}
				done <- err
			}()
			for deadline := time.Now().Add(time.Second); s.Count(EndpointToken) == 0; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("request never arrived")
				}
			}
			began := time.Now()
			s.Close()
			select {
			case err := <-done:
				if err == nil {
					t.Error("client saw a complete response")
				}
			case <-time.After(time.Second):
				t.Fatal("client still blocked after Close")
			}
			if d := time.Since(began); d > 500*time.Millisecond {
				t.Errorf("Close took %v", d)
			}
			buf := make([]byte, 1<<20)
			if stacks := string(buf[:runtime.Stack(buf, true)]); strings.Contains(stacks, "testidp.(*Server).serveFault") {
				t.Errorf("fault handler still running after Close:\n%s", stacks)
			}
		})
	}
}

func TestObservation(t *testing.T) {
	fc := fakeClock()
	s := start(t, Options{Clock: fc})
	a := login(t, s, "")
	refresh(t, s, a.str("refresh_token"), nil)
	get(t, s.UserinfoURL(), bearer(a.str("access_token")))
	get(t, s.URL()+"/nowhere")

	var got []string
	for _, r := range s.Requests() {
		got = append(got, r.Endpoint+":"+r.GrantType)
		if !r.Time.Equal(fc.Now()) {
			t.Errorf("request time %v is not the fake clock's", r.Time)
		}
	}
	want := []string{"device:", "token:" + DeviceGrantType, "token:refresh_token", "userinfo:", "unknown:"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("requests %v, want %v", got, want)
	}
	if s.Polls() != 1 || s.Count(EndpointToken) != 2 {
		t.Errorf("Polls %d token count %d", s.Polls(), s.Count(EndpointToken))
	}
	if len(s.AccessTokens()) != 2 || len(s.RefreshTokens()) != 2 || len(s.DeviceCodes()) != 1 {
		t.Errorf("issued lists wrong")
	}
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Errorf("URL %s", s.URL())
	}
}
