package oauth

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

const (
	// maxBodySize caps every response we read: providers answer in a few
	// KiB, so anything bigger is a misconfiguration or an attack on the
	// operator's memory.
	maxBodySize = 1 << 20
	// maxRedirects is generous for same-host path moves and small enough
	// that a redirect loop fails fast.
	maxRedirects   = 3
	defaultTimeout = 15 * time.Second
	userAgent      = "devicelogin-operator"
)

var (
	// metadataV4 covers link-local IPv4, where every major cloud serves
	// instance credentials (169.254.169.254) that a hostile discovery
	// document must not be able to point us at.
	metadataV4 = netip.MustParsePrefix("169.254.0.0/16")
	// metadataV6 is AWS's IPv6 instance metadata endpoint.
	metadataV6 = netip.MustParseAddr("fd00:ec2::254")
)

// errBodyTooLarge is matched with errors.Is; its text names no data.
var errBodyTooLarge = errors.New("response body exceeds 1 MiB")

// HTTPOptions configure NewHTTPClient.
type HTTPOptions struct {
	// Timeout bounds a whole request, body included; default 15s. It is
	// what keeps a hanging provider from stalling a reconcile worker.
	Timeout time.Duration
	// AllowMetadataIPs lets requests reach 169.254.0.0/16 and
	// fd00:ec2::254. It is false by default because provider URLs come from
	// users and from discovery documents, and the cloud metadata service
	// hands out the node's credentials to anyone who can reach it.
	AllowMetadataIPs bool
	// Dialer replaces the network dialer; it exists for tests. When nil a
	// net.Dialer is used whose Control hook refuses metadata addresses after
	// DNS resolution, so a hostname cannot smuggle one in.
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)
}

// NewHTTPClient builds the client every provider request should go through:
// bounded in time and size, refusing cross-host redirects (which would carry
// the Authorization header or form secrets somewhere else) and cloud
// metadata addresses.
func NewHTTPClient(o HTTPOptions) *http.Client {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	dial := o.Dialer
	if dial == nil {
		dial = newDialer(o.AllowMetadataIPs, nil, nil).DialContext
	}
	tr := &http.Transport{
		// Corporate clusters often reach the internet only through a proxy.
		// Then the dial check sees the proxy's address, which is why
		// guardTransport also checks literal IPs in the URL.
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dial,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          20,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
	return &http.Client{
		Timeout:       timeout,
		Transport:     &guardTransport{base: tr, allowMetadata: o.AllowMetadataIPs},
		CheckRedirect: checkRedirect,
	}
}

// controlFunc is the signature of net.Dialer.Control.
type controlFunc func(network, address string, c syscall.RawConn) error

// newDialer returns the production dialer. resolver and next are test seams:
// a test can resolve a name to a metadata address through a fake DNS server on
// 127.0.0.1 and pass a next hook that aborts any dial the check lets through,
// so even a broken check never puts a packet on the wire.
func newDialer(allowMetadata bool, resolver *net.Resolver, next controlFunc) *net.Dialer {
	return &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		Resolver:  resolver,
		// Control runs after resolution and before connect(2), on each
		// address actually tried, which closes the DNS-rebinding gap a
		// check on the hostname would leave.
		Control: func(network, address string, c syscall.RawConn) error {
			if err := checkDialAddress(address, allowMetadata); err != nil {
				return err
			}
			if next != nil {
				return next(network, address, c)
			}
			return nil
		},
	}
}

// blockedAddressError is a dial refused by checkDialAddress.
type blockedAddressError struct {
	address string
	why     string
}

func (e *blockedAddressError) Error() string {
	return fmt.Sprintf("refusing to connect to %s: %s", e.address, e.why)
}

// checkDialAddress refuses cloud metadata addresses unless allowMetadata.
// address is "ip:port" as net.Dialer.Control sees it, or a bare IP. Anything
// that is not an IP fails closed, since Control only ever sees resolved
// addresses and something else means we cannot tell what we would reach.
func checkDialAddress(address string, allowMetadata bool) error {
	if allowMetadata {
		return nil
	}
	host := address
	if h, _, err := net.SplitHostPort(address); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	if err != nil {
		return &blockedAddressError{address: address, why: "not an IP address"}
	}
	// Unmap so ::ffff:169.254.169.254 cannot sneak past the IPv4 prefix.
	ip = ip.WithZone("").Unmap()
	if metadataV4.Contains(ip) || ip == metadataV6 {
		return &blockedAddressError{
			address: address,
			why:     "cloud metadata address (HTTPOptions.AllowMetadataIPs is false)",
		}
	}
	return nil
}

// redirectError is a redirect CheckRedirect refused.
type redirectError struct{ reason string }

func (e *redirectError) Error() string { return e.reason }

// checkRedirect allows a few same-origin redirects only. Following one to
// another host would re-send form bodies (307/308) that hold device codes,
// refresh tokens and client secrets to a party nobody configured.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return &redirectError{reason: fmt.Sprintf("more than %d redirects", maxRedirects)}
	}
	if !sameOrigin(via[0].URL, req.URL) {
		return &redirectError{reason: fmt.Sprintf("redirect to another host (%s://%s) refused",
			req.URL.Scheme, req.URL.Host)}
	}
	return nil
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) &&
		strings.EqualFold(a.Hostname(), b.Hostname()) &&
		effectivePort(a) == effectivePort(b)
}

func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}

// guardTransport bounds response bodies for every reader, including the
// libraries (go-oidc, x/oauth2) that would otherwise io.ReadAll them, and
// refuses literal metadata IPs that a proxy would otherwise reach for us.
type guardTransport struct {
	base          http.RoundTripper
	allowMetadata bool
}

func (t *guardTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if ip, err := netip.ParseAddr(req.URL.Hostname()); err == nil {
		if err := checkDialAddress(ip.String(), t.allowMetadata); err != nil {
			closeRequestBody(req)
			return nil, err
		}
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	return bufferResponse(resp)
}

// bufferResponse replaces resp.Body by at most maxBodySize bytes read up
// front, so a too-large body fails the round trip where callers can detect
// it, instead of being silently truncated by a library's own LimitReader.
func bufferResponse(resp *http.Response) (*http.Response, error) {
	defer resp.Body.Close()
	body, err := readLimited(resp.Body)
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// readLimited reads r, failing rather than reading more than
// maxBodySize bytes.
func readLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxBodySize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBodySize {
		return nil, errBodyTooLarge
	}
	return b, nil
}

// closeRequestBody honours the RoundTripper contract on early returns.
func closeRequestBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// responseRecord is what a library saw, kept so its untyped errors can be
// classified from the response itself instead of from its error text.
type responseRecord struct {
	seen   bool
	status int
	header http.Header
	body   []byte
}

// libraryTransport wraps the caller's client for go-oidc and x/oauth2: it
// adds our User-Agent and Accept headers, bounds the body even when the
// caller's client does not, and records the last response.
type libraryTransport struct {
	base http.RoundTripper
	rec  *responseRecord
}

func (t *libraryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("User-Agent", userAgent)
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp, err = bufferResponse(resp)
	if err != nil {
		return nil, err
	}
	if t.rec != nil {
		body, _ := io.ReadAll(resp.Body) // in memory, cannot fail
		resp.Body = io.NopCloser(bytes.NewReader(body))
		*t.rec = responseRecord{seen: true, status: resp.StatusCode, header: resp.Header.Clone(), body: body}
	}
	return resp, nil
}

// libraryClient returns a shallow copy of hc (timeout and redirect policy
// kept) whose transport is a libraryTransport recording into rec (may be nil).
func libraryClient(hc *http.Client, rec *responseRecord) *http.Client {
	cp := *hc
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	cp.Transport = &libraryTransport{base: base, rec: rec}
	return &cp
}
