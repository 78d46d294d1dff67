package providersim

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
	"github.com/devicelogin-dev/devicelogin-operator/internal/presets"
)

// start runs a simulation for the test's lifetime, with a 1 s interval unless o says otherwise.
func start(t *testing.T, p Provider, o Options) *Server {
	t.Helper()
	if o.Interval == 0 {
		o.Interval = time.Second
	}
	s := New(p, o)
	t.Cleanup(s.Close)
	return s
}

// clientFor is the oauth.ClientConfig the controller builds for the preset pointed at s: the
// preset's endpoints under s.URL(), its quirks, and its auth style when there is a secret.
func clientFor(t *testing.T, s *Server, secret string) (*oauth.Client, oauth.ClientConfig) {
	t.Helper()
	p, err := presets.Lookup(string(s.Provider()))
	if err != nil {
		t.Fatal(err)
	}
	cfg := oauth.ClientConfig{
		Endpoints: p.Endpoints(s.URL()), ClientID: s.ClientID(), ClientSecret: secret,
		AuthStyle: oauth.AuthNone, Quirks: p.Quirks,
	}
	if secret != "" {
		cfg.AuthStyle = p.AuthStyle
	}
	return &oauth.Client{HTTP: oauth.NewHTTPClient(oauth.HTTPOptions{Timeout: 5 * time.Second})}, cfg
}

// answer is a raw HTTP answer.
type answer struct {
	status int
	header http.Header
	raw    string
	json   map[string]any
}

// post sends a form the way a careless client might; header may set Accept or Authorization.
func post(t *testing.T, endpoint string, form url.Values, header ...string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	_ = json.Unmarshal(b, &a.json)
	return a
}

// oauthErr returns err as *oauth.Error, failing the test when it is not one.
func oauthErr(t *testing.T, err error) *oauth.Error {
	t.Helper()
	var oe *oauth.Error
	if !errors.As(err, &oe) {
		t.Fatalf("want an *oauth.Error, got %T: %v", err, err)
	}
	return oe
}

// wantCode fails unless err is an *oauth.Error with this code and HTTP status, and returns a
// copy of it for further checks (a value, not an error, so that callers may ignore it).
func wantCode(t *testing.T, err error, code string, status int) oauth.Error {
	t.Helper()
	oe := oauthErr(t, err)
	if oe.Code != code || oe.StatusCode != status {
		t.Fatalf("got %s (HTTP %d), want %s (HTTP %d): %v", oe.Code, oe.StatusCode, code, status, err)
	}
	return *oe
}

// approved requests a code, approves it and polls once, after the interval, for its tokens.
func approved(t *testing.T, s *Server, c *oauth.Client, cfg oauth.ClientConfig, scopes ...string) *oauth.Token {
	t.Helper()
	d, err := c.RequestDeviceCode(t.Context(), cfg, oauth.DeviceRequest{Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Approve(d.UserCode, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	tok, err := c.PollToken(t.Context(), cfg, d.DeviceCode)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// oauthScopes is a device request for these scopes.
func oauthScopes(scopes ...string) oauth.DeviceRequest { return oauth.DeviceRequest{Scopes: scopes} }

// idClaims are an ID token's claims: base with kv's pairs set over it (a nil value deletes).
func idClaims(base map[string]any, kv ...any) map[string]any {
	c := map[string]any{"sub": "opaque-sub", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range base {
		c[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
			continue
		}
		c[kv[i].(string)] = kv[i+1]
	}
	return c
}

// subjectOf verifies rawIDToken as the controller does and returns who it names. A refused token
// must name nobody, with an error that quotes no part of the token.
func subjectOf(t *testing.T, c *oauth.Client, cfg oauth.ClientConfig, rawIDToken string) (string, error) {
	t.Helper()
	got, err := c.Subject(t.Context(), cfg, &oauth.Token{AccessToken: "an-access-token", IDToken: rawIDToken})
	if err != nil {
		var pe *oauth.ProtocolError
		if got != "" || !errors.As(err, &pe) {
			t.Errorf("a refused ID token names %q, error %T %v", got, err, err)
		}
		for _, part := range strings.Split(rawIDToken, ".") {
			if strings.Contains(err.Error(), part) {
				t.Errorf("the error quotes the ID token: %v", err)
			}
		}
	}
	return got, err
}
