package oauth

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

var jsonCT = hdr("Content-Type", "application/json")

// wantErr names the error type a case expects: "" for success.
func checkErrType(t *testing.T, err error, want string) {
	t.Helper()
	var oe *Error
	var te *TransientError
	var pe *ProtocolError
	got := ""
	switch {
	case err == nil:
	case errors.As(err, &oe):
		got = "oauth"
	case errors.As(err, &te):
		got = "transient"
	case errors.As(err, &pe):
		got = "protocol"
	default:
		got = "other"
	}
	if got != want {
		t.Fatalf("error type = %q (%v), want %q", got, err, want)
	}
}

func TestParseDeviceAuthorizationResponse(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		header  http.Header
		body    string
		wantErr string
		check   func(t *testing.T, d *DeviceAuthorization, err error)
	}{
		{
			name: "json", status: 200, header: jsonCT,
			body: `{"device_code":"dc","user_code":"ABCD-EFGH","verification_uri":"https://x.test/device","verification_uri_complete":"https://x.test/device?user_code=ABCD-EFGH","expires_in":900,"interval":7,"message":"go there"}`,
			check: func(t *testing.T, d *DeviceAuthorization, _ error) {
				want := DeviceAuthorization{DeviceCode: "dc", UserCode: "ABCD-EFGH", VerificationURI: "https://x.test/device",
					VerificationURIComplete: "https://x.test/device?user_code=ABCD-EFGH", ExpiresIn: 900 * time.Second,
					Interval: 7 * time.Second, Message: "go there"}
				if *d != want {
					t.Errorf("got %+v, want %+v", *d, want)
				}
			},
		},
		{
			name: "form encoded", status: 200, header: hdr("Content-Type", "application/x-www-form-urlencoded"),
			body: "device_code=dc&user_code=U&verification_uri=https%3A%2F%2Fx.test%2Fd&expires_in=600&interval=3",
			check: func(t *testing.T, d *DeviceAuthorization, _ error) {
				if d.VerificationURI != "https://x.test/d" || d.ExpiresIn != 10*time.Minute || d.Interval != 3*time.Second {
					t.Errorf("got %+v", *d)
				}
			},
		},
		{
			name: "form as text/plain", status: 200, header: hdr("Content-Type", "text/plain; charset=utf-8"),
			body: "device_code=dc&user_code=U&verification_uri=https://x.test/d",
			check: func(t *testing.T, d *DeviceAuthorization, _ error) {
				if d.DeviceCode != "dc" {
					t.Errorf("got %+v", *d)
				}
			},
		},
		{
			name: "numbers as strings (Entra v1)", status: 200, header: jsonCT,
			body: `{"device_code":"dc","user_code":"U","verification_url":"https://x.test/d","expires_in":"900","interval":"7"}`,
			check: func(t *testing.T, d *DeviceAuthorization, _ error) {
				if d.ExpiresIn != 900*time.Second || d.Interval != 7*time.Second {
					t.Errorf("got %+v", *d)
				}
			},
		},
		{
			name: "verification_url alias (Google)", status: 200, header: jsonCT,
			body: `{"device_code":"dc","user_code":"U","verification_url":"https://www.google.com/device","expires_in":1800,"interval":5}`,
			check: func(t *testing.T, d *DeviceAuthorization, _ error) {
				if d.VerificationURI != "https://www.google.com/device" {
					t.Errorf("VerificationURI = %q", d.VerificationURI)
				}
			},
		},
		{
			name: "only verification_uri_complete", status: 200, header: jsonCT,
			body: `{"device_code":"dc","user_code":"U","verification_uri_complete":"https://x.test/activate?user_code=U#frag"}`,
			check: func(t *testing.T, d *DeviceAuthorization, _ error) {
				if d.VerificationURI != "https://x.test/activate" || d.VerificationURIComplete == "" {
					t.Errorf("got %+v", *d)
				}
			},
		},
		{
			name: "missing interval and expires_in get defaults", status: 200, header: jsonCT,
			body: `{"device_code":"dc","user_code":"U","verification_uri":"https://x.test/d"}`,
			check: func(t *testing.T, d *DeviceAuthorization, _ error) {
				if d.Interval != 5*time.Second || d.ExpiresIn != 5*time.Minute {
					t.Errorf("got interval %v expires %v", d.Interval, d.ExpiresIn)
				}
			},
		},
		{
			name: "zero interval is the default", status: 200, header: jsonCT,
			body: `{"device_code":"dc","user_code":"U","verification_uri":"https://x.test/d","interval":0,"expires_in":0}`,
			check: func(t *testing.T, d *DeviceAuthorization, _ error) {
				if d.Interval != 5*time.Second || d.ExpiresIn != 5*time.Minute {
					t.Errorf("got interval %v expires %v", d.Interval, d.ExpiresIn)
				}
			},
		},
		{
			// RFC 8628 section 3.2: clamping -30 to 1s would poll a strict
			// server too early for ever (issue 10 item 2).
			name: "negative interval is the default", status: 200, header: jsonCT,
			body: `{"device_code":"dc","user_code":"U","verification_uri":"https://x.test/d","interval":-30,"expires_in":-5}`,
			check: func(t *testing.T, d *DeviceAuthorization, _ error) {
				if d.Interval != 5*time.Second || d.ExpiresIn != 5*time.Minute {
					t.Errorf("got interval %v expires %v", d.Interval, d.ExpiresIn)
				}
			},
		},
		{
			name: "non-numeric interval is the default", status: 200, header: jsonCT,
			body: `{"device_code":"dc","user_code":"U","verification_uri":"https://x.test/d","interval":"soon"}`,
			check: func(t *testing.T, d *DeviceAuthorization, _ error) {
				if d.Interval != 5*time.Second {
					t.Errorf("got interval %v", d.Interval)
				}
			},
		},
		{
			name: "tiny positive interval clamped to 1s", status: 200, header: jsonCT,
			body: `{"device_code":"dc","user_code":"U","verification_uri":"https://x.test/d","interval":0.001}`,
			check: func(t *testing.T, d *DeviceAuthorization, _ error) {
				if d.Interval != time.Second {
					t.Errorf("got interval %v", d.Interval)
				}
			},
		},
		{
			name: "huge values clamped", status: 200, header: jsonCT,
			body: `{"device_code":"dc","user_code":"U","verification_uri":"https://x.test/d","interval":"1e300","expires_in":99999999999999}`,
			check: func(t *testing.T, d *DeviceAuthorization, _ error) {
				if d.Interval != 10*time.Minute || d.ExpiresIn != 24*time.Hour {
					t.Errorf("got interval %v expires %v", d.Interval, d.ExpiresIn)
				}
			},
		},
		{
			name: "fractional interval", status: 200, header: jsonCT,
			body: `{"device_code":"dc","user_code":"U","verification_uri":"https://x.test/d","interval":2.5}`,
			check: func(t *testing.T, d *DeviceAuthorization, _ error) {
				if d.Interval != 2500*time.Millisecond {
					t.Errorf("interval %v", d.Interval)
				}
			},
		},
		{
			name: "error with HTTP 200", status: 200, header: jsonCT,
			body: `{"error":"unauthorized_client","error_description":"nope"}`, wantErr: "oauth",
			check: func(t *testing.T, _ *DeviceAuthorization, err error) {
				if !IsCode(err, "unauthorized_client") {
					t.Errorf("err = %v", err)
				}
			},
		},
		{name: "missing device_code", status: 200, header: jsonCT, body: `{"user_code":"U","verification_uri":"https://x.test/d"}`, wantErr: "protocol"},
		{name: "missing user_code", status: 200, header: jsonCT, body: `{"device_code":"dc","verification_uri":"https://x.test/d"}`, wantErr: "protocol"},
		{name: "missing verification uri", status: 200, header: jsonCT, body: `{"device_code":"dc","user_code":"U"}`, wantErr: "protocol"},
		{name: "javascript verification uri", status: 200, header: jsonCT, body: `{"device_code":"dc","user_code":"U","verification_uri":"javascript:alert(1)"}`, wantErr: "protocol"},
		{name: "html with 200", status: 200, header: hdr("Content-Type", "text/html"), body: "<html><body>login</body></html>", wantErr: "transient"},
		{name: "empty body", status: 200, header: jsonCT, body: "  ", wantErr: "transient"},
		{name: "garbage text", status: 200, header: hdr("Content-Type", "text/plain"), body: "hello", wantErr: "transient"},
		{name: "json array", status: 200, header: jsonCT, body: `["device_code"]`, wantErr: "transient"},
		{name: "truncated json", status: 200, header: jsonCT, body: `{"device_code":"dc"`, wantErr: "transient"},
		{name: "404 html", status: 404, header: hdr("Content-Type", "text/html"), body: "<h1>not found</h1>", wantErr: "oauth",
			check: func(t *testing.T, _ *DeviceAuthorization, err error) {
				if !IsCode(err, "http_404") {
					t.Errorf("err = %v", err)
				}
			}},
		{name: "400 invalid_client", status: 400, header: jsonCT, body: `{"error":"invalid_client"}`, wantErr: "oauth"},
		{name: "503 even with an error body", status: 503, header: jsonCT, body: `{"error":"temporarily_unavailable"}`, wantErr: "transient"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseDeviceAuthorizationResponse(tc.status, tc.header, []byte(tc.body))
			checkErrType(t, err, tc.wantErr)
			if tc.check != nil {
				tc.check(t, d, err)
			}
		})
	}
}

func TestParseTokenResponse(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		header  http.Header
		body    string
		wantErr string
		check   func(t *testing.T, tok *Token, err error)
	}{
		{
			name: "json with extras", status: 200, header: jsonCT,
			body: `{"access_token":"a","token_type":"bearer","refresh_token":"r","id_token":"i","scope":"openid email","expires_in":3600,"ext_expires_in":"7200","user":{"id":1},"login":"octo","flag":true}`,
			check: func(t *testing.T, tok *Token, _ error) {
				if tok.AccessToken != "a" || tok.TokenType != "bearer" || tok.RefreshToken != "r" || tok.IDToken != "i" ||
					tok.Scope != "openid email" || tok.ExpiresIn != time.Hour {
					t.Errorf("got %+v", *tok)
				}
				if len(tok.Extra) != 2 || tok.Extra["ext_expires_in"] != "7200" || tok.Extra["login"] != "octo" {
					t.Errorf("Extra = %v", tok.Extra)
				}
			},
		},
		{
			name: "form encoded (GitHub without Accept)", status: 200, header: hdr("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
			body: "access_token=gho_x&scope=repo%2Cgist&token_type=bearer",
			check: func(t *testing.T, tok *Token, _ error) {
				if tok.AccessToken != "gho_x" || tok.Scope != "repo,gist" || tok.ExpiresIn != 0 {
					t.Errorf("got %+v", *tok)
				}
			},
		},
		{
			name: "missing expires_in means no expiry, missing token_type is Bearer", status: 200, header: jsonCT,
			body: `{"access_token":"a"}`,
			check: func(t *testing.T, tok *Token, _ error) {
				if tok.ExpiresIn != 0 || tok.TokenType != "Bearer" || tok.Scope != "" {
					t.Errorf("got %+v", *tok)
				}
			},
		},
		{
			name: "expires_in as string", status: 200, header: jsonCT, body: `{"access_token":"a","expires_in":"3599"}`,
			check: func(t *testing.T, tok *Token, _ error) {
				if tok.ExpiresIn != 3599*time.Second {
					t.Errorf("ExpiresIn = %v", tok.ExpiresIn)
				}
			},
		},
		{
			name: "negative expires_in is a lifetime problem", status: 200, header: jsonCT, body: `{"access_token":"a","expires_in":-1}`,
			check: func(t *testing.T, tok *Token, _ error) {
				if tok.ExpiresIn != 0 || tok.LifetimeProblem != "expires_in was -1" {
					t.Errorf("ExpiresIn = %v, LifetimeProblem = %q", tok.ExpiresIn, tok.LifetimeProblem)
				}
			},
		},
		{
			name: "zero expires_in is a lifetime problem", status: 200, header: jsonCT, body: `{"access_token":"a","expires_in":"0","refresh_token":"r"}`,
			check: func(t *testing.T, tok *Token, _ error) {
				if tok.ExpiresIn != 0 || tok.LifetimeProblem != "expires_in was 0" || tok.RefreshToken != "r" {
					t.Errorf("got %+v", *tok)
				}
			},
		},
		{
			name: "non-numeric expires_in is a lifetime problem", status: 200, header: jsonCT, body: `{"access_token":"a","expires_in":"forever"}`,
			check: func(t *testing.T, tok *Token, _ error) {
				if tok.ExpiresIn != 0 || tok.LifetimeProblem != "expires_in was not a number" {
					t.Errorf("got %+v", *tok)
				}
			},
		},
		{
			name: "absent expires_in is no problem", status: 200, header: jsonCT, body: `{"access_token":"a","expires_in":null}`,
			check: func(t *testing.T, tok *Token, _ error) {
				if tok.ExpiresIn != 0 || tok.LifetimeProblem != "" {
					t.Errorf("got %+v", *tok)
				}
			},
		},
		{
			name: "fractional expires_in", status: 200, header: jsonCT, body: `{"access_token":"a","expires_in":3599.5}`,
			check: func(t *testing.T, tok *Token, _ error) {
				if tok.ExpiresIn != 3599500*time.Millisecond || tok.LifetimeProblem != "" {
					t.Errorf("got %+v", *tok)
				}
			},
		},
		{
			name: "scope as array", status: 200, header: jsonCT, body: `{"access_token":"a","scope":["a","b"]}`,
			check: func(t *testing.T, tok *Token, _ error) {
				if tok.Scope != "a b" {
					t.Errorf("Scope = %q", tok.Scope)
				}
			},
		},
		{name: "no access_token", status: 200, header: jsonCT, body: `{"token_type":"Bearer"}`, wantErr: "protocol"},
		{
			name: "authorization_pending 400", status: 400, header: jsonCT, body: `{"error":"authorization_pending"}`, wantErr: "oauth",
			check: func(t *testing.T, _ *Token, err error) {
				var oe *Error
				if !errors.As(err, &oe) || oe.Code != "authorization_pending" || oe.StatusCode != 400 || oe.Interval != 0 {
					t.Errorf("err = %#v", err)
				}
			},
		},
		{
			name: "slow_down with numeric interval", status: 400, header: jsonCT, body: `{"error":"slow_down","interval":10}`, wantErr: "oauth",
			check: func(t *testing.T, _ *Token, err error) {
				var oe *Error
				if !errors.As(err, &oe) || oe.Interval != 10*time.Second {
					t.Errorf("err = %#v", err)
				}
			},
		},
		{
			name: "slow_down with HTTP 200, form and string interval (GitHub)", status: 200,
			header: hdr("Content-Type", "application/x-www-form-urlencoded"),
			body:   "error=slow_down&error_description=Too+many+requests&interval=15", wantErr: "oauth",
			check: func(t *testing.T, _ *Token, err error) {
				var oe *Error
				if !errors.As(err, &oe) || oe.Interval != 15*time.Second || oe.StatusCode != 200 || oe.Description != "Too many requests" {
					t.Errorf("err = %#v", err)
				}
			},
		},
		{
			name: "429 with an OAuth code takes Retry-After as interval", status: 429,
			header: hdr("Content-Type", "application/json", "Retry-After", "20"), body: `{"error":"slow_down"}`, wantErr: "oauth",
			check: func(t *testing.T, _ *Token, err error) {
				var oe *Error
				if !errors.As(err, &oe) || oe.Interval != 20*time.Second {
					t.Errorf("err = %#v", err)
				}
			},
		},
		{
			name: "long description truncated", status: 400, header: jsonCT,
			body: `{"error":"invalid_grant","error_description":"` + strings.Repeat("x", 5000) + `\n"}`, wantErr: "oauth",
			check: func(t *testing.T, _ *Token, err error) {
				var oe *Error
				errors.As(err, &oe)
				if len(oe.Description) > 256 || !strings.HasSuffix(oe.Description, "…") {
					t.Errorf("description length %d", len(oe.Description))
				}
			},
		},
		{
			name: "503 with Retry-After", status: 503, header: hdr("Retry-After", "30"), body: "busy", wantErr: "transient",
			check: func(t *testing.T, _ *Token, err error) {
				var te *TransientError
				if !errors.As(err, &te) || te.RetryAfter != 30*time.Second || te.StatusCode != 503 || te.Reason != "HTTP 503" {
					t.Errorf("err = %#v", err)
				}
			},
		},
		{
			name: "429 with HTTP-date Retry-After", status: 429,
			header: hdr("Retry-After", time.Now().Add(time.Minute).UTC().Format(http.TimeFormat)), wantErr: "transient",
			check: func(t *testing.T, _ *Token, err error) {
				var te *TransientError
				if !errors.As(err, &te) || te.RetryAfter < 55*time.Second || te.RetryAfter > 61*time.Second {
					t.Errorf("err = %#v", err)
				}
			},
		},
		{name: "html with 200", status: 200, header: hdr("Content-Type", "text/html"), body: "<!doctype html><p>hi", wantErr: "transient"},
		{name: "json mislabelled as text/plain", status: 200, header: hdr("Content-Type", "text/plain"), body: `{"access_token":"a"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := ParseTokenResponse(tc.status, tc.header, []byte(tc.body))
			checkErrType(t, err, tc.wantErr)
			if tc.check != nil {
				tc.check(t, tok, err)
			}
		})
	}
}

func TestParseMasksSecretsInProviderText(t *testing.T) {
	secrets := []string{testDeviceCode, testClientSecret}
	body := `{"error":"invalid_request","error_description":"bad device_code ` + testDeviceCode +
		` and client_secret=` + strings.ReplaceAll(testClientSecret, " ", "+") + ` / ` + testClientSecret + `"}`
	_, err := parseToken(400, jsonCT, []byte(body), secrets)
	var oe *Error
	if !errors.As(err, &oe) {
		t.Fatalf("err = %v", err)
	}
	assertNoSecrets(t, err)
	if !strings.Contains(oe.Description, redacted) {
		t.Errorf("description not masked: %q", oe.Description)
	}
}

func TestErrorStrings(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&Error{Code: "access_denied", Description: "user said no", StatusCode: 400}, "provider answered access_denied: user said no (HTTP 400)"},
		{&Error{Code: "http_404", StatusCode: 404}, "provider answered http_404 (HTTP 404)"},
		{&TransientError{Reason: "HTTP 503", StatusCode: 503, RetryAfter: 30 * time.Second}, "temporary failure talking to provider: HTTP 503 (retry after 30s)"},
		{&ProtocolError{Reason: "token response has no access_token"}, "provider response unusable: token response has no access_token"},
	}
	for _, tc := range tests {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
	if IsCode(errors.New("x"), "x") || !IsCode(&Error{Code: "b"}, "a", "b") || IsCode(nil, "a") {
		t.Error("IsCode misbehaves")
	}
}
