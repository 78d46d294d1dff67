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
	"time"
)

const (
	// maxBodySize caps every response we read: providers answer in a few
	// KiB, so anything bigger is a misconfiguration or an attack on the
	// operator's memory.
	maxBodySize = 1 << 20
	// maxRedirects is generous for same-host path moves and small enough
	// that a redirect loop fails fast.
	maxRedirects = 3
	// maxIdleConnsPerHost keeps a connection per concurrent poll to one provider for reuse.
	maxIdleConnsPerHost = 8
	defaultTimeout      = 15 * time.Second
	userAgent           = "devicelogin-operator"
)

// errBodyTooLarge is matched with errors.Is; its text names no data.
var errBodyTooLarge = errors.New("response body exceeds 1 MiB")

// HTTPOptions configure NewHTTPClient.
type HTTPOptions struct {
	// Timeout bounds a whole request, body included; default 15s. It is
	// what keeps a hanging provider from stalling a reconcile worker. With
	// DenyPrivate it bounds each hop of a redirect chain instead (at most
	// four), so that a timeout reads like any other failure.
	Timeout time.Duration
	// AllowMetadataIPs lets requests reach 169.254.0.0/16 and
	// fd00:ec2::254. It is false by default because provider URLs come from
	// users and from discovery documents, and the cloud metadata service
	// hands out the node's credentials to anyone who can reach it.
	AllowMetadataIPs bool
	// DenyPrivate refuses loopback, private (10/8, 172.16/12, 192.168/16),
	// link-local (169.254/16, fe80::/10, so the metadata addresses too,
	// whatever AllowMetadataIPs says), CGNAT (100.64/10), ULA (fc00::/7),
	// unspecified, multicast and reserved addresses, also in their
	// IPv4-mapped, NAT64, 6to4 and IPv4-compatible IPv6 forms. The check
	// runs on every address the dialer tries after DNS resolution, on
	// literal IPs in URLs, and, when a proxy from the environment carries
	// the request, on the target host resolved here (a proxy would
	// otherwise reach internal addresses for us; a target this resolver
	// cannot resolve is refused). The proxy itself may be internal: it is
	// the administrator's. Every failure to connect then reads "could not
	// reach HOST", without telling refused from timed out or reset, so
	// that error messages shown to a provider's author cannot serve as a
	// port scanner. Meant for providers that tenants configure.
	DenyPrivate bool
	// Dialer replaces the network dialer; it exists for tests. When nil a
	// net.Dialer is used whose Control hook applies the address checks
	// after DNS resolution, so a hostname cannot smuggle an address in.
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)
}

// NewHTTPClient builds the client every provider request should go through:
// bounded in time and size, refusing cross-host redirects (which would carry
// the Authorization header or form secrets somewhere else), cloud metadata
// addresses and, with DenyPrivate, every internal address.
func NewHTTPClient(o HTTPOptions) *http.Client {
	return newHTTPClient(o, dialSeams{})
}

func newHTTPClient(o HTTPOptions, s dialSeams) *http.Client {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	policy := addressPolicy{allowMetadata: o.AllowMetadataIPs, denyPrivate: o.DenyPrivate}
	proxy := s.proxy
	if proxy == nil {
		proxy = http.ProxyFromEnvironment
	}
	dial := o.Dialer
	var trust *proxyTrust
	if dial == nil {
		dial = newDialer(policy, s.resolver, s.next).DialContext
		if policy.denyPrivate {
			trust = &proxyTrust{
				proxy:   proxy,
				strict:  dial,
				lenient: newDialer(addressPolicy{allowMetadata: o.AllowMetadataIPs}, s.resolver, s.next).DialContext,
			}
			proxy, dial = trust.Proxy, trust.DialContext
		}
	}
	tr := &http.Transport{
		// Corporate clusters often reach the internet only through a proxy.
		// Then the dial check sees the proxy's address, which is why
		// guardTransport also checks the target named in the URL.
		Proxy:             proxy,
		DialContext:       dial,
		ForceAttemptHTTP2: true,
		MaxIdleConns:      20,
		// Most DeviceLogins share a provider: with the default of 2 idle connections per host,
		// concurrent polls would close and dial (and handshake) connections all the time.
		MaxIdleConnsPerHost:   maxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
	guard := &guardTransport{base: tr, policy: policy, proxy: proxy, resolver: s.resolver, trust: trust}
	hc := &http.Client{Timeout: timeout, Transport: guard, CheckRedirect: checkRedirect}
	if policy.denyPrivate {
		// http.Client reports its own timeout in words of its own, outside
		// the transport; bounding each round trip in guardTransport instead
		// lets that failure read like every other one.
		hc.Timeout, guard.timeout = 0, timeout
	}
	return hc
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
// library (go-oidc) that would otherwise io.ReadAll them, and refuses targets
// that a proxy would otherwise reach for us (see checkTarget).
type guardTransport struct {
	base     http.RoundTripper
	policy   addressPolicy
	proxy    func(*http.Request) (*url.URL, error)
	resolver *net.Resolver // nil: the system resolver
	// trust is the dialer's, so that a direct request cannot reach the
	// proxy's address, which the dialer lets through; nil without one.
	trust *proxyTrust
	// timeout bounds each round trip, body included, when the http.Client
	// has none (DenyPrivate); 0 leaves it to the http.Client.
	timeout time.Duration
}

func (t *guardTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.roundTrip(req)
	if err != nil && t.policy.denyPrivate && !errors.Is(err, errBodyTooLarge) {
		var be *blockedAddressError
		return nil, &unreachableError{host: req.URL.Host, blocked: errors.As(err, &be)}
	}
	return resp, err
}

func (t *guardTransport) roundTrip(req *http.Request) (*http.Response, error) {
	if t.timeout > 0 {
		ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
		defer cancel() // after bufferResponse has read the whole body
		req = req.WithContext(ctx)
	}
	if err := t.checkTarget(req); err != nil { // may resolve a name: within the timeout
		closeRequestBody(req)
		return nil, err
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	return bufferResponse(resp)
}

// checkTarget applies the address policy to the URL's host where the dialer
// cannot: to a literal IP always (a proxy would connect to it for us), and,
// with DenyPrivate, to the addresses a proxied host name resolves to, and to
// a direct request aimed at the proxy's own address, which the dialer trusts.
func (t *guardTransport) checkTarget(req *http.Request) error {
	host := req.URL.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		return t.policy.check(ip.String())
	}
	if !t.policy.denyPrivate {
		return nil
	}
	proxyURL, err := t.proxy(req)
	if err != nil {
		return nil // the transport reports a broken proxy configuration itself
	}
	if proxyURL == nil {
		if t.trust != nil && t.trust.isProxy(proxyDialAddr(req.URL)) {
			return &blockedAddressError{address: req.URL.Host, why: "the proxy's own address"}
		}
		return nil
	}
	resolver := t.resolver
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	ips, err := resolver.LookupNetIP(req.Context(), "ip", host)
	if err != nil {
		return err
	}
	for _, ip := range ips {
		if err := t.policy.check(ip.String()); err != nil {
			return err
		}
	}
	return nil
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

// libraryTransport wraps the caller's client for go-oidc: it
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
