package oauth

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

// Seeds cover each parser path; `go test` runs them as ordinary tests and
// `go test -fuzz=FuzzParseTokenResponse ./internal/oauth/` explores further.
func addSeeds(f *testing.F, bodies ...string) {
	for _, ct := range []string{"application/json", "application/x-www-form-urlencoded", "text/plain", "text/html", ""} {
		for _, status := range []int{200, 400, 429, 503} {
			for _, b := range bodies {
				f.Add(status, ct, []byte(b))
			}
		}
	}
}

// checkParsedError holds for every input: failures are one of our types, and
// descriptions stay bounded.
func checkParsedError(t *testing.T, err error) {
	var oe *Error
	var te *TransientError
	var pe *ProtocolError
	switch {
	case errors.As(err, &oe):
		if len(oe.Description) > maxDescriptionLen || len(oe.Code) > maxDescriptionLen || oe.Interval < 0 || oe.Interval > maxInterval {
			t.Fatalf("unbounded *Error: %#v", oe)
		}
		if oe.StatusCode == http.StatusTooManyRequests && oe.Code != "slow_down" {
			t.Fatalf("HTTP 429 that is not slow_down must be transient: %#v", oe)
		}
		if oe.Code != "slow_down" && oe.StatusCode != http.StatusTooManyRequests && oe.Interval != 0 {
			t.Fatalf("interval on %#v", oe)
		}
	case errors.As(err, &te):
		if te.RetryAfter < 0 || te.RetryAfter > maxRetryAfter {
			t.Fatalf("bad RetryAfter: %#v", te)
		}
	case errors.As(err, &pe):
	default:
		t.Fatalf("untyped error %T: %v", err, err)
	}
}

func FuzzParseTokenResponse(f *testing.F) {
	addSeeds(f,
		`{"access_token":"a","expires_in":"3600","token_type":"bearer"}`,
		`{"error":"slow_down","interval":"1e300"}`,
		"access_token=a&scope=repo&expires_in=-5",
		"error=authorization_pending&error_description=%00%ff",
		`{"access_token":"a","scope":["x",1]}`,
		"<html>", "", "{", `{"a":1}{"b":2}`,
		`{"access_token":"a","expires_in":3599.5,"refresh_token":"r"}`,
		`{"access_token":"a","expires_in":0}`,
		`{"access_token":"a","expires_in":"-1e300"}`,
		`{"access_token":"a","expires_in":"soon"}`,
		`{"error":"slow_down","interval":-5}`,
		`{"error":"invalid_grant","interval":30}`,
		`{"error":"authorization_pending"}`,
	)
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		tok, err := ParseTokenResponse(status, http.Header{"Content-Type": {contentType}}, body)
		if err != nil {
			checkParsedError(t, err)
			return
		}
		if tok.AccessToken == "" || tok.TokenType == "" || tok.ExpiresIn < 0 || tok.ExpiresIn > maxTokenLifetime ||
			tok.ExpiresIn > 0 && tok.ExpiresIn < time.Second {
			t.Fatalf("invalid token accepted: %+v", tok)
		}
		if tok.LifetimeProblem != "" && (tok.ExpiresIn != 0 || len(tok.LifetimeProblem) > 64 ||
			SanitizeDisplay(tok.LifetimeProblem, 64) != tok.LifetimeProblem) {
			t.Fatalf("bad lifetime problem: %+v", tok)
		}
	})
}

func FuzzParseDeviceAuthorizationResponse(f *testing.F) {
	addSeeds(f,
		`{"device_code":"d","user_code":"u","verification_uri":"https://x.test/d","expires_in":900,"interval":5}`,
		`{"device_code":"d","user_code":"u","verification_url":"https://x.test/d","expires_in":"900","interval":"-1"}`,
		`{"device_code":"d","user_code":"u","verification_uri_complete":"https://x.test/d?c=u"}`,
		"device_code=d&user_code=u&verification_uri=javascript:alert(1)",
		`{"error":"access_denied"}`,
		"<html>", "", "=",
		`{"device_code":"d","user_code":"<b>x</b>","verification_uri":"https://x.test/d"}`,
		`{"device_code":"d","user_code":"ABCD EFGH","verification_uri":"https://u:p@x.test/d","interval":"soon"}`,
		`{"device_code":"d","user_code":"A-1","verification_uri":"https://x.test/d","verification_uri_complete":"https://x.test/\u202e","message":"a\nb\u0000c"}`,
		`{"device_code":"d","user_code":"A","verification_uri_complete":"https://x.test/d?c=A#f","interval":0.2}`,
	)
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		d, err := ParseDeviceAuthorizationResponse(status, http.Header{"Content-Type": {contentType}}, body)
		if err != nil {
			checkParsedError(t, err)
			return
		}
		if d.VerificationURIComplete != "" && !validDisplayURL(d.VerificationURIComplete) ||
			len(d.Message) > maxMessageLen || SanitizeDisplay(d.Message, maxMessageLen) != d.Message {
			t.Fatalf("unchecked display strings accepted: %+v", d)
		}
		if d.DeviceCode == "" || !validUserCode(d.UserCode) || !validDisplayURL(d.VerificationURI) ||
			d.Interval < minInterval || d.Interval > maxInterval ||
			d.ExpiresIn < time.Second || d.ExpiresIn > maxDeviceExpiry {
			t.Fatalf("invalid device authorization accepted: %+v", d)
		}
	})
}
