package oauth

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// operations runs each grant against p so credential placement can be
// checked for all of them.
var operations = []struct {
	name string
	run  func(ctx context.Context, c *Client, cfg ClientConfig) error
}{
	{"device", func(ctx context.Context, c *Client, cfg ClientConfig) error {
		_, err := c.RequestDeviceCode(ctx, cfg, DeviceRequest{})
		return err
	}},
	{"poll", func(ctx context.Context, c *Client, cfg ClientConfig) error {
		_, err := c.PollToken(ctx, cfg, testDeviceCode)
		return err
	}},
	{"refresh", func(ctx context.Context, c *Client, cfg ClientConfig) error {
		_, err := c.Refresh(ctx, cfg, testRefreshToken)
		return err
	}},
	{"revoke", func(ctx context.Context, c *Client, cfg ClientConfig) error {
		return c.Revoke(ctx, cfg, testAccessToken, "access_token")
	}},
}

func TestClientAuthPlacement(t *testing.T) {
	styles := []struct {
		name       string
		style      AuthStyle
		secret     string
		wantBasic  bool
		wantBodyID bool
		wantBodyCS bool
	}{
		{"none", AuthNone, "", false, true, false},
		{"none ignores a configured secret", AuthNone, testClientSecret, false, true, false},
		{"basic sends no body credentials (Sentry)", AuthBasic, testClientSecret, true, false, false},
		{"post", AuthPost, testClientSecret, false, true, true},
		{"default with secret is basic", "", testClientSecret, true, false, false},
		{"default without secret is none", "", "", false, true, false},
	}
	p := newProvider(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/device" {
			reply(w, 200, "application/json", deviceOK)
			return
		}
		reply(w, 200, "application/json", tokenOK)
	})
	c := &Client{HTTP: testHTTP()}
	for _, st := range styles {
		for _, op := range operations {
			t.Run(st.name+"/"+op.name, func(t *testing.T) {
				cfg := testConfig(p)
				cfg.AuthStyle, cfg.ClientSecret = st.style, st.secret
				if err := op.run(t.Context(), c, cfg); err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				got := p.last(t)
				if got.HasBasic != st.wantBasic {
					t.Errorf("Basic header present = %v, want %v", got.HasBasic, st.wantBasic)
				}
				if st.wantBasic && (got.User != testClientID || got.Pass != testClientSecret) {
					t.Errorf("Basic credentials decode to %q:%q", got.User, got.Pass)
				}
				if has := got.Form.Has("client_id"); has != st.wantBodyID {
					t.Errorf("client_id in body = %v, want %v (form %v)", has, st.wantBodyID, got.Form)
				}
				if st.wantBodyID && got.Form.Get("client_id") != testClientID {
					t.Errorf("client_id = %q", got.Form.Get("client_id"))
				}
				if has := got.Form.Has("client_secret"); has != st.wantBodyCS {
					t.Errorf("client_secret in body = %v, want %v", has, st.wantBodyCS)
				}
				if got.Method != http.MethodPost || got.Header.Get("Content-Type") != "application/x-www-form-urlencoded" ||
					got.Header.Get("Accept") != "application/json" || got.Header.Get("User-Agent") != userAgent {
					t.Errorf("method %s headers %v", got.Method, got.Header)
				}
			})
		}
	}
}

func TestRequestDeviceCode(t *testing.T) {
	p := newProvider(t, replyJSON(200, deviceOK))
	c := &Client{HTTP: testHTTP()}
	cfg := testConfig(p)
	cfg.Quirks.PollMargin = time.Second
	d, err := c.RequestDeviceCode(t.Context(), cfg, DeviceRequest{
		Scopes:     []string{"openid", "", "offline_access"},
		Audience:   "https://api.example.com",
		Parameters: map[string]string{"resource": "r1", "prompt": "login"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if d.DeviceCode != testDeviceCode || d.Interval != 6*time.Second {
		t.Errorf("got %+v", d)
	}
	f := p.last(t).Form
	if f.Get("scope") != "openid offline_access" || f.Get("audience") != "https://api.example.com" ||
		f.Get("resource") != "r1" || f.Get("prompt") != "login" || f.Has("grant_type") {
		t.Errorf("form = %v", f)
	}

	for _, k := range []string{"client_id", "scope", "audience", "client_secret"} {
		_, err := c.RequestDeviceCode(t.Context(), cfg, DeviceRequest{Parameters: map[string]string{k: "x"}})
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("parameter %s: err = %v", k, err)
		}
	}
}

func TestPollToken(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		margin  time.Duration
		wantErr string
		check   func(t *testing.T, tok *Token, err error)
	}{
		{
			name: "success", handler: replyJSON(200, tokenOK),
			check: func(t *testing.T, tok *Token, _ error) {
				if tok.AccessToken != testAccessToken || tok.ExpiresIn != time.Hour || tok.Rotated {
					t.Errorf("got %+v", tok)
				}
			},
		},
		{
			name: "authorization_pending", handler: replyJSON(400, `{"error":"authorization_pending"}`), wantErr: "oauth",
			check: func(t *testing.T, _ *Token, err error) {
				if !IsCode(err, "authorization_pending") {
					t.Errorf("err = %v", err)
				}
			},
		},
		{
			name: "slow_down interval gets the poll margin", margin: time.Second,
			handler: replyJSON(400, `{"error":"slow_down","interval":"10"}`), wantErr: "oauth",
			check: func(t *testing.T, _ *Token, err error) {
				var oe *Error
				if !errors.As(err, &oe) || oe.Interval != 11*time.Second {
					t.Errorf("err = %#v", err)
				}
			},
		},
		{
			name: "provider echoes secrets in the description",
			handler: replyJSON(400, `{"error":"expired_token","error_description":"device_code `+testDeviceCode+
				` for client secret `+testClientSecret+` expired"}`),
			wantErr: "oauth",
		},
		{
			name: "2 MiB body", wantErr: "transient",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				reply(w, 200, "application/json", `{"access_token":"`+strings.Repeat("a", 2<<20)+`"}`)
			},
			check: func(t *testing.T, _ *Token, err error) {
				if !strings.Contains(err.Error(), "exceeds 1 MiB") {
					t.Errorf("err = %v", err)
				}
			},
		},
		{name: "html with 200", handler: func(w http.ResponseWriter, _ *http.Request) {
			reply(w, 200, "text/html", "<html>maintenance</html>")
		}, wantErr: "transient"},
		{
			name: "503 with Retry-After", wantErr: "transient",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", "7")
				reply(w, 503, "text/html", "<html>down</html>")
			},
			check: func(t *testing.T, _ *Token, err error) {
				var te *TransientError
				if !errors.As(err, &te) || te.RetryAfter != 7*time.Second || te.StatusCode != 503 {
					t.Errorf("err = %#v", err)
				}
			},
		},
		{
			name: "429 with Retry-After", wantErr: "transient",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", "12")
				w.WriteHeader(429)
			},
			check: func(t *testing.T, _ *Token, err error) {
				var te *TransientError
				if !errors.As(err, &te) || te.RetryAfter != 12*time.Second || te.StatusCode != 429 {
					t.Errorf("err = %#v", err)
				}
			},
		},
	}
	c := &Client{HTTP: testHTTP()}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t, tc.handler)
			cfg := testConfig(p)
			cfg.Quirks.PollMargin = tc.margin
			tok, err := c.PollToken(t.Context(), cfg, testDeviceCode)
			checkErrType(t, err, tc.wantErr)
			assertNoSecrets(t, err)
			if tc.check != nil {
				tc.check(t, tok, err)
			}
			f := p.last(t).Form
			if f.Get("grant_type") != deviceGrantType || f.Get("device_code") != testDeviceCode {
				t.Errorf("form = %v", f)
			}
		})
	}
}

func TestPollTokenTimeout(t *testing.T) {
	release := make(chan struct{})
	p := newProvider(t, func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before p.Close
	c := &Client{HTTP: NewHTTPClient(HTTPOptions{Timeout: 200 * time.Millisecond})}
	start := time.Now()
	_, err := c.PollToken(t.Context(), testConfig(p), testDeviceCode)
	checkErrType(t, err, "transient")
	if !strings.Contains(err.Error(), "timed out") || time.Since(start) > 3*time.Second {
		t.Errorf("err = %v after %v", err, time.Since(start))
	}
	assertNoSecrets(t, err)
}

func TestPollTokenContextDeadline(t *testing.T) {
	release := make(chan struct{})
	p := newProvider(t, func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := (&Client{HTTP: testHTTP()}).PollToken(ctx, testConfig(p), testDeviceCode)
	checkErrType(t, err, "transient")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want it to wrap context.DeadlineExceeded", err)
	}
}

func TestConnectionRefused(t *testing.T) {
	p := newProvider(t, replyJSON(200, tokenOK))
	cfg := testConfig(p)
	p.Close()
	_, err := (&Client{HTTP: testHTTP()}).PollToken(t.Context(), cfg, testDeviceCode)
	checkErrType(t, err, "transient")
	if !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("err = %v", err)
	}
}

// TestBodyCapBoundsMemory streams far more than the cap: an unbounded read
// would allocate all of it.
func TestBodyCapBoundsMemory(t *testing.T) {
	const streamed = 64 << 20
	p := newProvider(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		chunk := []byte(strings.Repeat("a", 32<<10))
		for sent := 0; sent < streamed; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	c := &Client{HTTP: testHTTP()}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := c.PollToken(t.Context(), testConfig(p), testDeviceCode)
	runtime.ReadMemStats(&after)
	checkErrType(t, err, "transient")
	t.Logf("allocated %d KiB", (after.TotalAlloc-before.TotalAlloc)>>10)
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 16<<20 {
		t.Errorf("allocated %d MiB reading a %d MiB body", allocated>>20, streamed>>20)
	}
}

func TestRevoke(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		wantErr string
	}{
		{"200", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }, ""},
		{"200 with error body", replyJSON(200, `{"error":"invalid_client"}`), "oauth"},
		{"400 unsupported_token_type", replyJSON(400, `{"error":"unsupported_token_type","error_description":"cannot revoke `+testAccessToken+`"}`), "oauth"},
		{"503", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }, "transient"},
	}
	c := &Client{HTTP: testHTTP()}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t, tc.handler)
			err := c.Revoke(t.Context(), testConfig(p), testAccessToken, "access_token")
			checkErrType(t, err, tc.wantErr)
			assertNoSecrets(t, err)
			f := p.last(t).Form
			if f.Get("token") != testAccessToken || f.Get("token_type_hint") != "access_token" {
				t.Errorf("form = %v", f)
			}
		})
	}
	t.Run("no revocation URL", func(t *testing.T) {
		if err := c.Revoke(t.Context(), ClientConfig{ClientID: "x"}, testAccessToken, ""); err != nil {
			t.Errorf("err = %v", err)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	c := &Client{HTTP: testHTTP()}
	cfg := ClientConfig{ClientID: "x", AuthStyle: "Weird", Endpoints: Endpoints{TokenURL: "http://127.0.0.1:1/token"}}
	if _, err := c.PollToken(t.Context(), cfg, testDeviceCode); err == nil || !strings.Contains(err.Error(), "auth style") {
		t.Errorf("unknown style: err = %v", err)
	}
	if _, err := c.Refresh(t.Context(), cfg, testRefreshToken); err == nil || !strings.Contains(err.Error(), "auth style") {
		t.Errorf("unknown style on refresh: err = %v", err)
	}
	if _, err := c.RequestDeviceCode(t.Context(), ClientConfig{ClientID: "x"}, DeviceRequest{}); err == nil {
		t.Error("missing device URL accepted")
	}
	if _, err := c.PollToken(t.Context(), cfg, ""); err == nil {
		t.Error("empty device code accepted")
	}
}
