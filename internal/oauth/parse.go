package oauth

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	defaultInterval = 5 * time.Second // RFC 8628 section 3.2
	minInterval     = time.Second
	// maxInterval guards against a provider (or a typo in one) that would
	// otherwise make the controller wait for hours between polls.
	maxInterval = 10 * time.Minute
	// defaultDeviceExpiry stands in for a missing expires_in, which RFC 8628
	// requires; five minutes is short enough that a stale code fails fast
	// and long enough for a person to type the user code.
	defaultDeviceExpiry = 5 * time.Minute
	// maxDeviceExpiry: no real device code lives longer than a day.
	maxDeviceExpiry = 24 * time.Hour
	// maxTokenLifetime keeps absurd expires_in values from overflowing
	// time.Duration (about 292 years).
	maxTokenLifetime = 10 * 365 * 24 * time.Hour
	// maxMessageLen bounds the human message we copy into status.
	maxMessageLen = 1024
)

// fields is a provider response flattened to its top-level string and
// number values, numbers kept as their text, because providers disagree on
// whether expires_in is 900 or "900".
type fields map[string]string

// tokenKeys are the Token fields; every other key goes to Token.Extra.
var tokenKeys = map[string]bool{
	"access_token": true, "token_type": true, "refresh_token": true,
	"id_token": true, "scope": true, "expires_in": true,
}

// ParseTokenResponse interprets one token endpoint response (RFC 6749
// section 5.1 and 5.2, RFC 8628 section 3.5). It is pure so it can be fuzzed
// and reused by every grant. An `error` in the body wins over the status,
// except on 5xx. It cannot mask secrets it was not told about; the Client
// methods, which know their request's secrets, do.
func ParseTokenResponse(status int, header http.Header, body []byte) (*Token, error) {
	return parseToken(status, header, body, nil)
}

// ParseDeviceAuthorizationResponse interprets one device authorization
// response (RFC 8628 section 3.2), normalising provider deviations such as
// Google's verification_url and numbers sent as strings.
func ParseDeviceAuthorizationResponse(status int, header http.Header, body []byte) (*DeviceAuthorization, error) {
	return parseDevice(status, header, body, nil)
}

// parseToken masks secrets in provider text before any truncation.
func parseToken(status int, header http.Header, body []byte, secrets []string) (*Token, error) {
	f, err := decodeResponse(status, header, body, secrets)
	if err != nil {
		return nil, err
	}
	tok := &Token{
		AccessToken:  f["access_token"],
		TokenType:    f["token_type"],
		RefreshToken: f["refresh_token"],
		IDToken:      f["id_token"],
		Scope:        f["scope"],
	}
	tok.ExpiresIn, tok.LifetimeProblem = tokenLifetime(f["expires_in"])
	if tok.AccessToken == "" {
		return nil, &ProtocolError{Reason: "token response has no access_token"}
	}
	if tok.TokenType == "" {
		tok.TokenType = "Bearer"
	}
	for k, v := range f {
		if !tokenKeys[k] {
			if tok.Extra == nil {
				tok.Extra = map[string]string{}
			}
			tok.Extra[k] = v
		}
	}
	return tok, nil
}

// tokenLifetime maps expires_in to a duration. Absent means the token does
// not expire (0), as RFC 6749 makes it optional. Present but not a positive
// number (0, negative, not a number) is nonsense: the lifetime is 0 as well
// and problem says what was sent, for the controller to put a floor on its
// refresh schedule and report. The token is not refused, since it may carry
// a rotated refresh token that must not be lost.
func tokenLifetime(v string) (lifetime time.Duration, problem string) {
	if strings.TrimSpace(v) == "" {
		return 0, ""
	}
	secs, ok := parseSeconds(v)
	switch {
	case !ok:
		return 0, "expires_in was not a number"
	case secs <= 0:
		return 0, "expires_in was " + strconv.FormatFloat(secs, 'g', 6, 64)
	}
	return clampSeconds(secs, time.Second, maxTokenLifetime), ""
}

// pollInterval maps an interval field to a duration: positive values are
// clamped to [1s, 10m], and anything else (absent, 0, negative, not a
// number) is 0, meaning the provider stated none.
func pollInterval(v string) time.Duration {
	if secs, ok := parseSeconds(v); ok && secs > 0 {
		return clampSeconds(secs, minInterval, maxInterval)
	}
	return 0
}

func parseDevice(status int, header http.Header, body []byte, secrets []string) (*DeviceAuthorization, error) {
	f, err := decodeResponse(status, header, body, secrets)
	if err != nil {
		return nil, err
	}
	// Everything but the device code ends up in status and events, where
	// every reader of the namespace sees it and printer columns show it, so
	// each string is bounded and checked here, once, and never quoted in an
	// error (it may be anything).
	d := &DeviceAuthorization{
		DeviceCode: f["device_code"],
		UserCode:   f["user_code"],
		Message:    SanitizeDisplay(f["message"], maxMessageLen),
	}
	switch {
	case d.DeviceCode == "":
		return nil, &ProtocolError{Reason: "device authorization response has no device_code"}
	case d.UserCode == "":
		return nil, &ProtocolError{Reason: "device authorization response has no user_code"}
	case !validUserCode(d.UserCode):
		return nil, &ProtocolError{Reason: "user_code is not 1 to 64 ASCII letters, digits, '-' or spaces"}
	}
	// The complete URI is optional, so a bad one is dropped rather than
	// failing a flow the person can still finish by typing the code.
	if c := f["verification_uri_complete"]; validDisplayURL(c) {
		d.VerificationURIComplete = c
	}
	d.VerificationURI = f["verification_uri"]
	if d.VerificationURI == "" {
		d.VerificationURI = f["verification_url"] // Google's spelling
	}
	if d.VerificationURI == "" && d.VerificationURIComplete != "" {
		u, _ := url.Parse(d.VerificationURIComplete) // validDisplayURL parsed it already
		u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
		d.VerificationURI = u.String()
	}
	if d.VerificationURI == "" {
		return nil, &ProtocolError{Reason: "device authorization response has no verification_uri"}
	}
	// The URI is shown to people as a link; a javascript: or data: URI, or
	// https://trusted.example@evil.test/, would be an attack, not a quirk.
	if !validDisplayURL(d.VerificationURI) {
		return nil, &ProtocolError{Reason: "verification_uri is not an absolute http(s) URL of at most 2048 printable characters without user information"}
	}

	if secs, ok := parseSeconds(f["expires_in"]); ok && secs > 0 {
		d.ExpiresIn = clampSeconds(secs, time.Second, maxDeviceExpiry)
	} else {
		d.ExpiresIn = defaultDeviceExpiry
	}
	// RFC 8628 section 3.2: a missing interval means 5 seconds, and so does
	// one that is 0, negative or not a number. Clamping a negative one to
	// the minimum instead would poll a strict server too early for ever.
	if d.Interval = pollInterval(f["interval"]); d.Interval == 0 {
		d.Interval = defaultInterval
	}
	return d, nil
}

// decodeResponse returns the body's fields for a usable 2xx answer and the
// typed error for everything else. Precedence: an OAuth `error` in the body
// (below 5xx: a 5xx body is often a proxy's, and retrying is right either
// way), then the status, then whether the body is an OAuth response at all.
func decodeResponse(status int, header http.Header, body []byte, secrets []string) (fields, error) {
	f, reason := decodeBody(header, body)
	if code := f["error"]; code != "" && status < 500 {
		return nil, oauthError(status, header, f, secrets)
	}
	if status < 200 || status > 299 {
		return nil, statusError(status, header)
	}
	if reason != "" {
		return nil, &TransientError{Reason: reason, StatusCode: status}
	}
	return f, nil
}

// oauthError builds the error for a body that carries `error`: an *Error,
// except that HTTP 429 is always a *TransientError whatever the code, since
// too many requests is never a final answer; slow_down alone stays an
// *Error, because it also tells the controller to poll less often, and a
// 429's Retry-After becomes its Interval when the body states none.
func oauthError(status int, header http.Header, f fields, secrets []string) error {
	if status == http.StatusTooManyRequests && f["error"] != "slow_down" {
		return statusError(status, header)
	}
	e := &Error{
		Code:        sanitizeProviderText(f["error"], secrets),
		Description: sanitizeProviderText(f["error_description"], secrets),
		StatusCode:  status,
	}
	if e.Code == "slow_down" {
		e.Interval = pollInterval(f["interval"])
	}
	if status == http.StatusTooManyRequests && e.Interval == 0 {
		e.Interval = min(retryAfter(header, time.Now()), maxInterval)
	}
	return e
}

// decodeBody flattens a JSON or form-encoded body. reason is non-empty when
// the body is not an OAuth response at all (HTML error pages, garbage,
// nothing); f may still be nil then.
func decodeBody(header http.Header, body []byte) (f fields, reason string) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, "empty response body"
	}
	mt, _, _ := mime.ParseMediaType(header.Get("Content-Type"))
	mt = strings.ToLower(mt)
	// Sniff JSON whatever the label: providers send it as text/plain,
	// text/javascript or with no Content-Type at all.
	if trimmed[0] == '{' {
		if f, ok := decodeJSON(trimmed); ok {
			return f, ""
		}
		return nil, "response is not valid JSON"
	}
	isJSONType := mt == "application/json" || strings.HasSuffix(mt, "+json")
	if isJSONType {
		return nil, "response is not a JSON object"
	}
	// GitHub answers form-encoded unless asked for JSON, and some servers
	// label that text/plain.
	if mt == "" || mt == "application/x-www-form-urlencoded" || mt == "text/plain" {
		if f, ok := decodeForm(trimmed); ok {
			return f, ""
		}
	}
	label := safeToken(mt)
	if label == "" {
		label = "no usable Content-Type"
	}
	return nil, "response is not JSON or form data (" + label + ")"
}

// decodeJSON keeps strings and numbers; objects, booleans and null are
// dropped, except that a scope array (seen in the wild) is joined and a user
// object (Sentry's {"id","name","email"}) is kept as the name it gives.
func decodeJSON(b []byte) (fields, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false // trailing data: not one JSON document
	}
	f := fields{}
	for k, v := range raw {
		if len(v) == 0 {
			continue
		}
		switch v[0] {
		case '"':
			var s string
			if json.Unmarshal(v, &s) == nil {
				f[k] = s
			}
		case '[':
			var parts []string
			if k == "scope" && json.Unmarshal(v, &parts) == nil {
				f[k] = strings.Join(parts, " ")
			}
		case '{':
			if k == "user" {
				if name := userObjectName(v); name != "" {
					f[k] = name
				}
			}
		case 't', 'f', 'n':
		default:
			f[k] = string(v) // a number, already validated by the decoder
		}
	}
	return f, true
}

// userObjectName is what a token response's user object calls the user: the
// email, else the name, else the login; "" when it has none of them as text.
func userObjectName(raw json.RawMessage) string {
	var user map[string]any
	if json.Unmarshal(raw, &user) != nil {
		return ""
	}
	for _, k := range []string{"email", "name", "login", "username"} {
		if s, ok := user[k].(string); ok {
			if s = sanitizeProviderText(s, nil); s != "" {
				return s // one line, bounded: it is shown in status and events
			}
		}
	}
	return ""
}

// decodeForm accepts a body only if it looks like key=value pairs, so a bare
// word or an HTML page is not mistaken for an empty OAuth response.
func decodeForm(b []byte) (fields, bool) {
	if !bytes.Contains(b, []byte("=")) || b[0] == '<' {
		return nil, false
	}
	vals, err := url.ParseQuery(string(b))
	if err != nil {
		return nil, false
	}
	f := fields{}
	for k, vs := range vals {
		if k == "" {
			return nil, false
		}
		f[k] = vs[0]
	}
	return f, true
}

// parseSeconds accepts integer or decimal seconds, as a JSON number or a
// string; ok is false when absent or not a finite number.
func parseSeconds(v string) (float64, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	secs, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(secs) || math.IsInf(secs, 0) {
		return 0, false
	}
	return secs, true
}

// clampSeconds converts in floating point first so 1e300 cannot overflow.
func clampSeconds(secs float64, lo, hi time.Duration) time.Duration {
	d := secs * float64(time.Second)
	switch {
	case d < float64(lo):
		return lo
	case d > float64(hi):
		return hi
	}
	return time.Duration(d)
}

func isWebURL(s string) bool {
	if s == "" {
		return false
	}
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	return (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}
