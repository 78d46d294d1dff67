package oauth

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestRefresh(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		wantErr string
		check   func(t *testing.T, tok *Token, err error)
	}{
		{
			name: "rotation",
			handler: replyJSON(200, `{"access_token":"`+testAccessToken+`","token_type":"Bearer","expires_in":"1800",`+
				`"refresh_token":"`+testNewRefresh+`","id_token":"idt","scope":"openid","ext_expires_in":3600}`),
			check: func(t *testing.T, tok *Token, _ error) {
				if !tok.Rotated || tok.RefreshToken != testNewRefresh || tok.ExpiresIn != 30*time.Minute ||
					tok.IDToken != "idt" || tok.Scope != "openid" || tok.Extra["ext_expires_in"] != "3600" {
					t.Errorf("got %+v", tok)
				}
			},
		},
		{
			name:    "no rotation keeps the old refresh token",
			handler: replyJSON(200, `{"access_token":"`+testAccessToken+`"}`),
			check: func(t *testing.T, tok *Token, _ error) {
				if tok.Rotated || tok.RefreshToken != testRefreshToken || tok.ExpiresIn != 0 || tok.TokenType != "Bearer" {
					t.Errorf("got %+v", tok)
				}
			},
		},
		{
			name:    "same refresh token sent back is not a rotation",
			handler: replyJSON(200, `{"access_token":"`+testAccessToken+`","refresh_token":"`+testRefreshToken+`"}`),
			check: func(t *testing.T, tok *Token, _ error) {
				if tok.Rotated || tok.RefreshToken != testRefreshToken {
					t.Errorf("got %+v", tok)
				}
			},
		},
		{
			name: "form encoded answer (GitHub)",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				reply(w, 200, "application/x-www-form-urlencoded", "access_token=a&expires_in=28800&refresh_token=r2&refresh_token_expires_in=15811200")
			},
			check: func(t *testing.T, tok *Token, _ error) {
				if !tok.Rotated || tok.ExpiresIn < 28790*time.Second || tok.ExpiresIn > 28800*time.Second ||
					tok.Extra["refresh_token_expires_in"] != "15811200" {
					t.Errorf("got %+v", tok)
				}
			},
		},
		{
			name: "invalid_grant", wantErr: "oauth",
			handler: replyJSON(400, `{"error":"invalid_grant","error_description":"refresh token `+testRefreshToken+` revoked"}`),
			check: func(t *testing.T, _ *Token, err error) {
				var oe *Error
				if !errors.As(err, &oe) || oe.Code != "invalid_grant" || oe.StatusCode != 400 {
					t.Errorf("err = %#v", err)
				}
			},
		},
		{
			name: "invalid_grant with HTTP 200", wantErr: "oauth",
			handler: replyJSON(200, `{"error":"invalid_grant"}`),
			check: func(t *testing.T, _ *Token, err error) {
				if !IsCode(err, "invalid_grant") {
					t.Errorf("err = %v", err)
				}
			},
		},
		{
			name: "503 with Retry-After", wantErr: "transient",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", "9")
				reply(w, 503, "text/html", "<html>"+testRefreshToken+"</html>")
			},
			check: func(t *testing.T, _ *Token, err error) {
				var te *TransientError
				if !errors.As(err, &te) || te.RetryAfter != 9*time.Second || te.StatusCode != 503 {
					t.Errorf("err = %#v", err)
				}
			},
		},
		{name: "404 without OAuth body", handler: func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, wantErr: "oauth"},
		{name: "html with 200", handler: func(w http.ResponseWriter, _ *http.Request) {
			reply(w, 200, "text/html", "<html>"+testRefreshToken+"</html>")
		}, wantErr: "transient"},
		{name: "no access_token", handler: replyJSON(200, `{"token_type":"Bearer"}`), wantErr: "protocol"},
		{name: "2 MiB body", handler: func(w http.ResponseWriter, _ *http.Request) {
			reply(w, 200, "application/json", `{"access_token":"`+string(make([]byte, 2<<20))+`"}`)
		}, wantErr: "transient"},
	}
	c := &Client{HTTP: testHTTP()}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t, tc.handler)
			tok, err := c.Refresh(t.Context(), testConfig(p), testRefreshToken)
			checkErrType(t, err, tc.wantErr)
			assertNoSecrets(t, err)
			if tc.check != nil {
				tc.check(t, tok, err)
			}
			got := p.last(t)
			if got.Form.Get("grant_type") != "refresh_token" || got.Form.Get("refresh_token") != testRefreshToken ||
				got.Form.Has("scope") || got.Header.Get("Accept") != "application/json" || got.Header.Get("User-Agent") != userAgent {
				t.Errorf("request form %v headers %v", got.Form, got.Header)
			}
		})
	}
}

// TestRefreshPublicClientSendsOnlyClientID: a public client's refresh carries
// client_id and nothing else that could identify or authenticate it.
func TestRefreshPublicClientSendsOnlyClientID(t *testing.T) {
	p := newProvider(t, replyJSON(200, tokenOK))
	cfg := testConfig(p)
	cfg.AuthStyle, cfg.ClientSecret = AuthNone, ""
	if _, err := (&Client{HTTP: testHTTP()}).Refresh(t.Context(), cfg, testRefreshToken); err != nil {
		t.Fatal(err)
	}
	got := p.last(t)
	if got.HasBasic || got.Header.Get("Authorization") != "" {
		t.Errorf("Authorization header sent: %q", got.Header.Get("Authorization"))
	}
	want := map[string]string{"grant_type": "refresh_token", "refresh_token": testRefreshToken, "client_id": testClientID}
	if len(got.Form) != len(want) {
		t.Errorf("form = %v, want exactly %v", got.Form, want)
	}
	for k, v := range want {
		if got.Form.Get(k) != v {
			t.Errorf("form[%s] = %q, want %q", k, got.Form.Get(k), v)
		}
	}
}

// TestRefreshUsesOurParser: answers our parser accepts but x/oauth2's did
// not (a fractional expires_in) keep their rotated refresh token (issue 10
// item 10), and so do answers with an absurd lifetime (issue 10 item 4).
func TestRefreshUsesOurParser(t *testing.T) {
	tests := []struct {
		name, body      string
		wantLifetime    time.Duration
		wantProblem     string
		wantExtraUserID string
	}{
		{"fractional expires_in", `{"access_token":"` + testAccessToken + `","token_type":"Bearer","expires_in":3599.5,` +
			`"refresh_token":"` + testNewRefresh + `","user_id":"42"}`, 3599500 * time.Millisecond, "", "42"},
		{"zero expires_in", `{"access_token":"` + testAccessToken + `","expires_in":0,"refresh_token":"` + testNewRefresh + `"}`,
			0, "expires_in was 0", ""},
		{"negative expires_in", `{"access_token":"` + testAccessToken + `","expires_in":"-60","refresh_token":"` + testNewRefresh + `"}`,
			0, "expires_in was -60", ""},
	}
	c := &Client{HTTP: testHTTP()}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t, replyJSON(200, tc.body))
			tok, err := c.Refresh(t.Context(), testConfig(p), testRefreshToken)
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if !tok.Rotated || tok.RefreshToken != testNewRefresh || tok.ExpiresIn != tc.wantLifetime ||
				tok.LifetimeProblem != tc.wantProblem || tok.Extra["user_id"] != tc.wantExtraUserID {
				t.Errorf("got %+v", tok)
			}
		})
	}
}

func TestRefreshTimeout(t *testing.T) {
	release := make(chan struct{})
	p := newProvider(t, func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })
	c := &Client{HTTP: NewHTTPClient(HTTPOptions{Timeout: 200 * time.Millisecond})}
	_, err := c.Refresh(t.Context(), testConfig(p), testRefreshToken)
	checkErrType(t, err, "transient")
	assertNoSecrets(t, err)
}
