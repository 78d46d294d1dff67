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
// hours: waiting longer than this is never worth a stuck login, and a
// provider that still refuses simply says so again.
const maxRetryAfter = 10 * time.Minute

// unreachableError is every failure to connect of a client with
// HTTPOptions.DenyPrivate. It names only the URL's host, which the
// provider's author wrote, and tells nothing about what happened on the
// wire (refused, timed out, reset, which address a name resolved to), so
// that error messages cannot be used to scan the network. It wraps nothing
// on purpose: nothing can be read out of it.
type unreachableError struct {
	host string
	// blocked says the address policy refused the host (or what it
	// resolves to), which is permanent, rather than a network failure.
	blocked bool
}

func (e *unreachableError) Error() string {
	if e.blocked {
		return "refusing to connect to " + e.host + ": it is or resolves to an internal address " +
			"(loopback, private, link-local, CGNAT, ULA or similar), which this provider may not reach"
	}
	return "could not reach " + e.host
}

// transportError turns a failed http.Client.Do into one of our typed errors.
// It never includes err.Error(): url.Error and friends quote URLs and
// wrapped library errors that may quote bodies.
func transportError(ctx context.Context, err error) error {
	var re *redirectError
	if errors.As(err, &re) {
		return &ProtocolError{Reason: re.reason}
	}
	var ue *unreachableError
	if errors.As(err, &ue) {
		if ue.blocked {
			return &ProtocolError{Reason: ue.Error()}
		}
		return &TransientError{Reason: ue.Error(), cause: ctx.Err()}
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
	secs, err := strconv.ParseInt(v, 10, 64)
	if errors.Is(err, strconv.ErrRange) && secs > 0 {
		return maxRetryAfter // more seconds than an int64 holds
	}
	if err == nil {
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
