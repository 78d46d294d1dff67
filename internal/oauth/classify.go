package oauth

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"
)

// maxRetryAfter keeps an absurd Retry-After from parking a resource for
// weeks; the controller can always come back sooner.
const maxRetryAfter = 24 * time.Hour

// transportError turns a failed http.Client.Do into one of our typed errors.
// It never includes err.Error(): url.Error and friends quote URLs and
// wrapped library errors that may quote bodies.
func transportError(ctx context.Context, err error) error {
	var re *redirectError
	if errors.As(err, &re) {
		return &ProtocolError{Reason: re.reason}
	}
	var be *blockedAddressError
	if errors.As(err, &be) {
		return &ProtocolError{Reason: be.Error()}
	}
	if errors.Is(err, errBodyTooLarge) {
		return &TransientError{Reason: errBodyTooLarge.Error()}
	}
	if cerr := ctx.Err(); cerr != nil {
		reason := "request cancelled"
		if errors.Is(cerr, context.DeadlineExceeded) {
			reason = "timed out"
		}
		return &TransientError{Reason: reason, cause: cerr}
	}
	return &TransientError{Reason: networkReason(err)}
}

// networkReason names the failure in words an operator can act on.
func networkReason(err error) string {
	var ne net.Error
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by peer"
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return "DNS name " + dnsErr.Name + " not found"
		}
		return "DNS lookup of " + dnsErr.Name + " failed"
	case errors.As(err, &certErr):
		return "TLS certificate verification failed"
	case errors.As(err, &recErr):
		return "TLS handshake failed (does the server speak plain HTTP?)"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by provider"
	default:
		return "network error"
	}
}

// statusError classifies a non-2xx response that carried no OAuth error:
// 5xx and 429 are worth retrying; any other status is a stable *Error so the
// controller can surface it instead of retrying a 404 forever.
func statusError(status int, header http.Header) error {
	if status >= 500 || status == http.StatusTooManyRequests {
		return &TransientError{
			Reason:     "HTTP " + strconv.Itoa(status),
			StatusCode: status,
			RetryAfter: retryAfter(header, time.Now()),
		}
	}
	return &Error{Code: httpStatusCode(status), StatusCode: status}
}

// retryAfter reads Retry-After as delta-seconds or an HTTP date (RFC 9110
// section 10.2.3); anything unparsable or in the past counts as absent.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now).Round(time.Second)
	}
	return min(max(d, 0), maxRetryAfter)
}
