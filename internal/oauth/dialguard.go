package oauth

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
)

var (
	// metadataV4 covers link-local IPv4, where every major cloud serves
	// instance credentials (169.254.169.254) that a hostile discovery
	// document must not be able to point us at.
	metadataV4 = netip.MustParsePrefix("169.254.0.0/16")
	// metadataV6 is AWS's IPv6 instance metadata endpoint.
	metadataV6 = netip.MustParseAddr("fd00:ec2::254")
	// defaultProxyPort is the port net/http dials for a proxy URL without one.
	defaultProxyPort = map[string]string{"http": "80", "https": "443", "socks5": "1080", "socks5h": "1080"}
)

// addressPolicy says which addresses a client may connect to.
type addressPolicy struct {
	// allowMetadata lets the cloud metadata addresses through.
	allowMetadata bool
	// denyPrivate refuses every internal address (see InternalAddressReason),
	// the metadata ones included, whatever allowMetadata says.
	denyPrivate bool
}

// blockedAddressError is a connection refused by addressPolicy.check. Its
// text names the address; clients with DenyPrivate never show it, only an
// unreachableError naming the URL's host.
type blockedAddressError struct {
	address string
	why     string
}

func (e *blockedAddressError) Error() string {
	return fmt.Sprintf("refusing to connect to %s: %s", e.address, e.why)
}

// check refuses what the policy does not allow. address is "ip:port" as
// net.Dialer.Control sees it, or a bare IP. Anything that is not an IP fails
// closed, since Control only ever sees resolved addresses and something else
// means we cannot tell what we would reach.
func (p addressPolicy) check(address string) error {
	if p.allowMetadata && !p.denyPrivate {
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
	if eff := effectiveIP(ip); !p.allowMetadata && (metadataV4.Contains(eff) || eff == metadataV6) {
		return &blockedAddressError{
			address: address,
			why:     "a cloud metadata address (HTTPOptions.AllowMetadataIPs is false)",
		}
	}
	if p.denyPrivate {
		if why, internal := InternalAddressReason(ip); internal {
			return &blockedAddressError{address: address, why: why + " (HTTPOptions.DenyPrivate is true)"}
		}
	}
	return nil
}

// controlFunc is the signature of net.Dialer.Control.
type controlFunc func(network, address string, c syscall.RawConn) error

// dialSeams are test seams of newHTTPClient; the zero value is production.
type dialSeams struct {
	// resolver replaces the system resolver, for the dialer and for the
	// check of proxied targets.
	resolver *net.Resolver
	// proxy replaces http.ProxyFromEnvironment.
	proxy func(*http.Request) (*url.URL, error)
	// next runs in Control after the address check, so a test can abort
	// any connect the check lets through and no packet leaves the machine.
	next controlFunc
}

// newDialer returns the production dialer. resolver and next are test seams:
// a test can resolve a name to a metadata address through a fake DNS server on
// 127.0.0.1 and pass a next hook that aborts any dial the check lets through,
// so even a broken check never puts a packet on the wire.
func newDialer(policy addressPolicy, resolver *net.Resolver, next controlFunc) *net.Dialer {
	return &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		Resolver:  resolver,
		// Control runs after resolution and before connect(2), on each
		// address actually tried, which closes the DNS-rebinding gap a
		// check on the hostname would leave.
		Control: func(network, address string, c syscall.RawConn) error {
			if err := policy.check(address); err != nil {
				return err
			}
			if next != nil {
				return next(network, address, c)
			}
			return nil
		},
	}
}

// proxyTrust lets a DenyPrivate client reach its HTTP proxy, which the
// administrator configured through the environment and which often lives on
// a private address, while every other connection stays under the strict
// policy. It trusts exactly the addresses the proxy function has returned.
type proxyTrust struct {
	proxy   func(*http.Request) (*url.URL, error)
	strict  func(ctx context.Context, network, addr string) (net.Conn, error)
	lenient func(ctx context.Context, network, addr string) (net.Conn, error)
	// addrs holds the dial address of every proxy URL seen; proxies come
	// from the environment, so it holds one or two entries.
	addrs sync.Map
}

// Proxy is the transport's proxy function: it remembers what it returns.
func (p *proxyTrust) Proxy(req *http.Request) (*url.URL, error) {
	u, err := p.proxy(req)
	if u != nil {
		p.addrs.Store(proxyDialAddr(u), true)
	}
	return u, err
}

// DialContext dials a known proxy leniently and anything else strictly.
func (p *proxyTrust) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if p.isProxy(addr) {
		return p.lenient(ctx, network, addr)
	}
	return p.strict(ctx, network, addr)
}

func (p *proxyTrust) isProxy(addr string) bool {
	_, ok := p.addrs.Load(addr)
	return ok
}

// proxyDialAddr is the address net/http dials for proxy URL u: host:port
// with the scheme's default port.
func proxyDialAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = defaultProxyPort[strings.ToLower(u.Scheme)]
	}
	return net.JoinHostPort(u.Hostname(), port)
}
