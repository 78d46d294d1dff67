package oauth

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Test secrets contain characters that form encoding changes, so both the
// Basic-auth encoding and the masking of encoded echoes get exercised.
const (
	testClientID     = "client id/1"
	testClientSecret = "cs+SECRET/client:9f8e 7d"
	testDeviceCode   = "dc-SECRET-device-1a2b3c"
	testRefreshToken = "rt-SECRET-refresh-4d5e6f"
	testAccessToken  = "at-SECRET-access-7a8b9c"
	testNewRefresh   = "rt-SECRET-rotated-0f0f0f"
)

var testSecrets = []string{testClientSecret, testDeviceCode, testRefreshToken, testAccessToken, testNewRefresh}

// assertNoSecrets fails when err's text holds any test secret, raw or
// form-encoded.
func assertNoSecrets(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	for _, s := range testSecrets {
		for _, form := range []string{s, url.QueryEscape(s), url.PathEscape(s)} {
			if strings.Contains(msg, form) {
				t.Errorf("error leaks a secret %q: %s", form, msg)
			}
		}
	}
}

// seenRequest is what a fake provider received.
type seenRequest struct {
	Method   string
	Path     string
	Header   http.Header
	Form     url.Values
	HasBasic bool
	User     string // Basic user, form-url-decoded
	Pass     string // Basic password, form-url-decoded
}

// provider is an httptest server on 127.0.0.1 that records every request.
type provider struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seenRequest
}

func (p *provider) requests() []seenRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]seenRequest(nil), p.reqs...)
}

func (p *provider) last(t *testing.T) seenRequest {
	t.Helper()
	r := p.requests()
	if len(r) == 0 {
		t.Fatal("provider received no request")
	}
	return r[len(r)-1]
}

func newProvider(t *testing.T, h http.HandlerFunc) *provider {
	t.Helper()
	p := &provider{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		seen := seenRequest{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Form: form}
		if u, pw, ok := r.BasicAuth(); ok {
			seen.HasBasic = true
			seen.User, _ = url.QueryUnescape(u)
			seen.Pass, _ = url.QueryUnescape(pw)
		}
		p.mu.Lock()
		p.reqs = append(p.reqs, seen)
		p.mu.Unlock()
		r.PostForm = form
		h(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

// reply writes body with a Content-Type and status.
func reply(w http.ResponseWriter, status int, contentType, body string) {
	if contentType != "" {
		w.Header().Set("Content-Type", contentType)
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func replyJSON(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { reply(w, status, "application/json", body) }
}

func testHTTP() *http.Client { return NewHTTPClient(HTTPOptions{Timeout: 5 * time.Second}) }

func testConfig(p *provider) ClientConfig {
	return ClientConfig{
		Endpoints: Endpoints{
			DeviceAuthorizationURL: p.URL + "/device",
			TokenURL:               p.URL + "/token",
			RevocationURL:          p.URL + "/revoke",
		},
		ClientID:     testClientID,
		ClientSecret: testClientSecret,
		AuthStyle:    AuthPost,
	}
}

const deviceOK = `{"device_code":"` + testDeviceCode + `","user_code":"WDJB-MJHT","verification_uri":"https://example.com/device","expires_in":900,"interval":5}`

const tokenOK = `{"access_token":"` + testAccessToken + `","token_type":"Bearer","expires_in":3600,"refresh_token":"` + testRefreshToken + `"}`
