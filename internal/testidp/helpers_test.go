package testidp

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	testclock "k8s.io/utils/clock/testing"

	"github.com/devicelogin-dev/devicelogin-operator/internal/providersim"
)

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

// pending lists the codes a person could still act on, in issue order.
func pending(s *Server) []string {
	var out []string
	for _, uc := range s.UserCodes() {
		if info, _ := s.Code(uc); info.Pending(s.Now()) {
			out = append(out, uc)
		}
	}
	return out
}

// info describes the code behind a user code.
func info(t *testing.T, s *Server, userCode string) providersim.CodeInfo {
	t.Helper()
	c, ok := s.Code(userCode)
	if !ok {
		t.Fatalf("unknown user code %s", userCode)
	}
	return c
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
