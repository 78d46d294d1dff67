package testidp

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

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
