package oauth

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxDescriptionLen bounds provider-supplied text so a chatty or hostile
// provider cannot bloat Kubernetes status fields and events.
const maxDescriptionLen = 256

// redacted replaces any secret the provider echoes back at us.
const redacted = "[redacted]"

// Error is an OAuth error response (RFC 6749 section 5.2, RFC 8628 section
// 3.5), whatever HTTP status it came with: GitHub, for one, answers errors with
// HTTP 200. The controller switches on Code (see IsCode).
type Error struct {
	// Code is the provider's `error` value, e.g. authorization_pending,
	// slow_down, expired_token, access_denied or invalid_grant; or
	// "http_<status>" when a 4xx came without an OAuth error body.
	Code string
	// Description is the provider's error_description, truncated to 256
	// characters, with every secret of the request masked as "[redacted]".
	Description string
	// StatusCode is the HTTP status the error came with.
	StatusCode int
	// Interval is the new polling interval a slow_down states (GitHub sends
	// one), clamped to [1s, 10m]; if it states none and came with HTTP 429,
	// the Retry-After header (at most 10m); 0 otherwise, and always 0 for
	// other codes: the controller then adds 5s itself (RFC 8628 3.5).
	Interval time.Duration
	// ProviderCode is the provider's own code when Quirks.ErrorCodes
	// translated it into Code (e.g. bad_refresh_token), "" otherwise.
	ProviderCode string
}

// Error reads "provider answered <code>: <description> (HTTP <status>)",
// the code followed by the provider's own in parentheses when translated.
func (e *Error) Error() string {
	code := e.Code
	if e.ProviderCode != "" {
		code += " (" + e.ProviderCode + ")"
	}
	if e.Description == "" {
		return fmt.Sprintf("provider answered %s (HTTP %d)", code, e.StatusCode)
	}
	return fmt.Sprintf("provider answered %s: %s (HTTP %d)", code, e.Description, e.StatusCode)
}

// TransientError is a failure worth retrying with backoff: a network error or
// timeout, HTTP 5xx, HTTP 429 whatever OAuth error it carries (slow_down
// aside, which is an *Error), a body that is not a valid OAuth response
// (HTML, garbage, empty) or a body over 1 MiB.
type TransientError struct {
	// Reason is short, human and secret-free, e.g. "connection refused",
	// "HTTP 503" or "response body exceeds 1 MiB".
	Reason string
	// StatusCode is the HTTP status, 0 when no response arrived.
	StatusCode int
	// RetryAfter comes from the Retry-After header (delta-seconds or an
	// HTTP date), at most 10 minutes; 0 when absent.
	RetryAfter time.Duration

	// cause is only ever a context error, so callers can tell a cancelled
	// reconcile from a provider outage with errors.Is; it never holds an
	// error whose text could contain a request or response.
	cause error
}

// Error describes the failure; it is safe to show to anyone.
func (e *TransientError) Error() string {
	var b strings.Builder
	b.WriteString("temporary failure talking to provider: ")
	b.WriteString(e.Reason)
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Unwrap exposes context.Canceled or context.DeadlineExceeded when the
// caller's context ended the request.
func (e *TransientError) Unwrap() error { return e.cause }

// ProtocolError means retrying will not help soon: the provider answered 2xx
// with something that violates the RFC (a device response without device_code,
// a token response without access_token), or the request broke one of this
// package's safety rules (a redirect to another host, a cloud metadata
// address).
type ProtocolError struct {
	// Reason is secret-free and names what was wrong.
	Reason string
}

// Error describes the violation; it is safe to show to anyone.
func (e *ProtocolError) Error() string { return "provider response unusable: " + e.Reason }

// DiscoveryError is returned by Discover with a message a person can act on,
// naming every URL that was tried and what each answered.
type DiscoveryError struct {
	// Reason lists the URLs tried and what went wrong with each.
	Reason string

	// transient is set when at least one attempt failed in a way that may
	// heal (network, 5xx, 429), so the controller can back off instead of
	// declaring the configuration broken.
	transient *TransientError
}

// Error describes the failure; it is safe to show to anyone.
func (e *DiscoveryError) Error() string { return "discovery failed: " + e.Reason }

// Unwrap returns a *TransientError when retrying discovery may succeed, so
// errors.As(err, new(*TransientError)) works for discovery too.
func (e *DiscoveryError) Unwrap() error {
	if e.transient == nil {
		return nil
	}
	return e.transient
}

// IsCode reports whether err is (or wraps) an *Error whose Code is one of codes.
func IsCode(err error, codes ...string) bool {
	var oe *Error
	if !errors.As(err, &oe) {
		return false
	}
	return slices.Contains(codes, oe.Code)
}

// sanitizeProviderText makes provider text safe for status fields: secrets
// are masked before truncation so a cut can never leave half a secret behind,
// and control characters are dropped so one line stays one line.
func sanitizeProviderText(s string, secrets []string) string {
	return SanitizeDisplay(maskSecrets(s, secrets), maxDescriptionLen)
}

// maskSecrets hides each secret also in its URL-encoded forms, because
// providers sometimes echo the raw request body back in error_description.
func maskSecrets(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		for _, form := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec)} {
			s = strings.ReplaceAll(s, form, redacted)
		}
	}
	return s
}

// truncate keeps at most n bytes, cutting at a rune boundary so the result
// stays valid UTF-8, and marks the cut so nobody mistakes it for the whole.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// safeToken keeps only text that looks like an RFC 6749 error code or a
// media type, so provider-controlled words can be quoted in Reasons without
// dragging anything else along.
func safeToken(s string) string {
	if s == "" || len(s) > 64 {
		return ""
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			strings.ContainsRune("_-./+", r)
		if !ok {
			return ""
		}
	}
	return s
}

// httpStatusCode is the Code of an *Error for a 4xx that carried no OAuth
// error, so the controller still gets a stable, switchable value.
func httpStatusCode(status int) string { return "http_" + strconv.Itoa(status) }
