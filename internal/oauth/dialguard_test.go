package oauth

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestAddressPolicyCheck(t *testing.T) {
	metadataOnly := addressPolicy{}
	allowAll := addressPolicy{allowMetadata: true}
	deny := addressPolicy{denyPrivate: true}
	denyWithMetadata := addressPolicy{denyPrivate: true, allowMetadata: true}
	tests := []struct {
		addr      string
		policy    addressPolicy
		wantBlock bool
	}{
		// Metadata, refused unless allowed (and always under DenyPrivate).
		{"169.254.169.254:80", metadataOnly, true},
		{"169.254.0.1:443", metadataOnly, true},
		{"169.254.169.254", metadataOnly, true},
		{"[fd00:ec2::254]:80", metadataOnly, true},
		{"[::ffff:169.254.169.254]:80", metadataOnly, true},
		{"[64:ff9b::a9fe:a9fe]:80", metadataOnly, true}, // NAT64 form
		{"not-an-ip:80", metadataOnly, true},
		{"127.0.0.1:8080", metadataOnly, false},
		{"[::1]:443", metadataOnly, false},
		{"10.0.0.1:443", metadataOnly, false},
		{"169.255.0.1:80", metadataOnly, false},
		{"[fd00:ec2::253]:80", metadataOnly, false},
		{"169.254.169.254:80", allowAll, false},
		{"[fd00:ec2::254]:80", allowAll, false},
		{"169.254.169.254:80", denyWithMetadata, true},
		{"[fd00:ec2::254]:80", denyWithMetadata, true},

		// DenyPrivate: every internal address, in every spelling.
		{"127.0.0.1:80", deny, true},
		{"127.255.255.254:80", deny, true},
		{"[::1]:80", deny, true},
		{"10.0.0.1:80", deny, true},
		{"172.16.0.1:80", deny, true},
		{"172.31.255.255:80", deny, true},
		{"192.168.1.1:80", deny, true},
		{"169.254.1.1:80", deny, true},
		{"[fe80::1]:80", deny, true},
		{"[fe80::1%eth0]:80", deny, true},
		{"100.64.0.1:80", deny, true},
		{"100.127.255.255:80", deny, true},
		{"[fc00::1]:80", deny, true},
		{"[fd12:3456::1]:80", deny, true},
		{"0.0.0.0:80", deny, true},
		{"0.1.2.3:80", deny, true},
		{"[::]:80", deny, true},
		{"224.0.0.1:80", deny, true},
		{"[ff02::1]:80", deny, true},
		{"255.255.255.255:80", deny, true},
		{"[fec0::1]:80", deny, true},
		{"[::ffff:10.0.0.1]:80", deny, true},
		{"[::ffff:127.0.0.1]:80", deny, true},
		{"[64:ff9b::7f00:1]:80", deny, true}, // NAT64 of 127.0.0.1
		{"[64:ff9b::a00:1]:80", deny, true},  // NAT64 of 10.0.0.1
		{"[64:ff9b:1::1]:80", deny, true},    // local-use NAT64
		{"[2002:7f00:1::1]:80", deny, true},  // 6to4 of 127.0.0.1
		{"[::7f00:1]:80", deny, true},        // IPv4-compatible 127.0.0.1
		{"[::c0a8:101]:80", deny, true},      // IPv4-compatible 192.168.1.1
		{"192.0.0.8:80", deny, true},
		{"198.18.0.1:80", deny, true},
		{"240.0.0.1:80", deny, true},
		{"[2002:c612:1::1]:80", deny, true}, // 6to4 of 198.18.0.1
		{"not-an-ip:80", deny, true},
		{"8.8.8.8:443", deny, false},
		{"203.0.113.7:443", deny, false},
		{"172.32.0.1:443", deny, false},
		{"100.128.0.1:443", deny, false},
		{"169.255.0.1:443", deny, false},
		{"[2001:4860:4860::8888]:443", deny, false},
		{"[64:ff9b::808:808]:443", deny, false}, // NAT64 of 8.8.8.8
		{"[2002:808:808::1]:443", deny, false},  // 6to4 of 8.8.8.8
	}
	for _, tc := range tests {
		err := tc.policy.check(tc.addr)
		if (err != nil) != tc.wantBlock {
			t.Errorf("%+v.check(%q) = %v, want blocked=%v", tc.policy, tc.addr, err, tc.wantBlock)
		}
	}
}

// TestDialerControl calls the Control hook the way net.Dialer does, after
// resolution and before connect, so nothing is dialled.
func TestDialerControl(t *testing.T) {
	d := newDialer(addressPolicy{}, nil, nil)
	var be *blockedAddressError
	if err := d.Control("tcp4", "169.254.169.254:80", nil); !errors.As(err, &be) {
		t.Errorf("Control(metadata) = %v", err)
	}
	if err := d.Control("tcp4", "127.0.0.1:80", nil); err != nil {
		t.Errorf("Control(loopback) = %v", err)
	}
	if err := newDialer(addressPolicy{allowMetadata: true}, nil, nil).Control("tcp4", "169.254.169.254:80", nil); err != nil {
		t.Errorf("Control with AllowMetadataIPs = %v", err)
	}
	if err := newDialer(addressPolicy{denyPrivate: true}, nil, nil).Control("tcp4", "127.0.0.1:80", nil); !errors.As(err, &be) {
		t.Errorf("Control(loopback) with DenyPrivate = %v", err)
	}
}

// TestDenyPrivateRefusesLoopback points the production client, no seams, at
// a provider on 127.0.0.1, by address and by name: nothing may arrive.
func TestDenyPrivateRefusesLoopback(t *testing.T) {
	p := newProvider(t, replyJSON(200, tokenOK))
	u, _ := url.Parse(p.URL)
	c := &Client{HTTP: NewHTTPClient(HTTPOptions{Timeout: 5 * time.Second, DenyPrivate: true})}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		cfg := testConfig(p)
		cfg.Endpoints.TokenURL = "http://" + host + ":" + u.Port() + "/token"
		_, err := c.PollToken(t.Context(), cfg, testDeviceCode)
		checkErrType(t, err, "protocol")
		if !strings.Contains(err.Error(), "refusing to connect to "+host+":"+u.Port()) || !strings.Contains(err.Error(), "internal address") {
			t.Errorf("%s: err = %v", host, err)
		}
	}
	if n := len(p.requests()); n != 0 {
		t.Fatalf("the loopback provider got %d requests, want 0", n)
	}
	// The same provider is reachable without DenyPrivate.
	if _, err := (&Client{HTTP: testHTTP()}).PollToken(t.Context(), testConfig(p), testDeviceCode); err != nil {
		t.Fatalf("without DenyPrivate: %v", err)
	}
}

// TestDenyPrivateRefusesLiteralIPs: literal internal IPs in URLs are refused
// before any dial (the dialer here must never be reached).
func TestDenyPrivateRefusesLiteralIPs(t *testing.T) {
	var dials atomic.Int32
	hc := NewHTTPClient(HTTPOptions{Timeout: time.Second, DenyPrivate: true, AllowMetadataIPs: true,
		Dialer: func(context.Context, string, string) (net.Conn, error) {
			dials.Add(1)
			return nil, errors.New("test dialer: must not be reached")
		}})
	c := &Client{HTTP: hc}
	for _, host := range []string{"10.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "[64:ff9b::a9fe:a9fe]", "169.254.169.254",
		"0.0.0.0", "100.64.0.1", "[fd00::1]", "[fe80::1%25eth0]"} {
		cfg := ClientConfig{ClientID: "x", Endpoints: Endpoints{TokenURL: "http://" + host + "/token"}}
		_, err := c.PollToken(t.Context(), cfg, testDeviceCode)
		checkErrType(t, err, "protocol")
	}
	if dials.Load() != 0 {
		t.Errorf("dialled %d times", dials.Load())
	}
}

// noProxy stands in for http.ProxyFromEnvironment, so that a proxy in the
// test's environment cannot change what is dialled.
func noProxy(*http.Request) (*url.URL, error) { return nil, nil }

// fakeResolver resolves through startFakeDNS.
func fakeResolver(t *testing.T, names map[string][4]byte) *net.Resolver {
	dnsAddr, _ := startFakeDNS(t, names)
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", dnsAddr)
	}}
}

// dialRecorder is a Control hook that records every address the policy let
// through and aborts every connect except to 127.0.0.1, so no packet leaves
// the machine even when the check is broken.
type dialRecorder struct {
	mu   sync.Mutex
	seen []string
}

func (d *dialRecorder) control(_, address string, _ syscall.RawConn) error {
	d.mu.Lock()
	d.seen = append(d.seen, address)
	d.mu.Unlock()
	if host, _, _ := net.SplitHostPort(address); host != "127.0.0.1" {
		return errors.New("test guard: dial aborted")
	}
	return nil
}

func (d *dialRecorder) addresses() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.seen...)
}

// TestDenyPrivateChecksResolvedAddresses: a host name is checked on what it
// resolves to, at dial time; a public address is let through (and the test
// hook aborts the connect).
func TestDenyPrivateChecksResolvedAddresses(t *testing.T) {
	resolver := fakeResolver(t, map[string][4]byte{
		"internal.test.": {127, 0, 0, 1},
		"private.test.":  {10, 1, 2, 3},
		"public.test.":   {203, 0, 113, 7},
	})
	p := newProvider(t, replyJSON(200, tokenOK))
	u, _ := url.Parse(p.URL)
	rec := &dialRecorder{}
	deny := &Client{HTTP: newHTTPClient(HTTPOptions{Timeout: 5 * time.Second, DenyPrivate: true},
		dialSeams{resolver: resolver, proxy: noProxy, next: rec.control})}
	cfg := testConfig(p)

	for _, host := range []string{"internal.test", "private.test"} {
		cfg.Endpoints.TokenURL = "http://" + host + ":" + u.Port() + "/token"
		_, err := deny.PollToken(t.Context(), cfg, testDeviceCode)
		checkErrType(t, err, "protocol")
		if msg := err.Error(); !strings.Contains(msg, "refusing to connect to "+host+":"+u.Port()) ||
			strings.Contains(msg, "127.0.0.1") || strings.Contains(msg, "10.1.2.3") {
			t.Errorf("%s: err = %v (must name the host, not what it resolves to)", host, err)
		}
	}
	if got := rec.addresses(); len(got) != 0 || len(p.requests()) != 0 {
		t.Fatalf("dials let through: %v; provider requests: %d", got, len(p.requests()))
	}

	cfg.Endpoints.TokenURL = "http://public.test:" + u.Port() + "/token"
	_, err := deny.PollToken(t.Context(), cfg, testDeviceCode)
	checkErrType(t, err, "transient")
	if err.Error() != "temporary failure talking to provider: could not reach public.test:"+u.Port() {
		t.Errorf("err = %v", err)
	}
	if got := rec.addresses(); len(got) != 1 || got[0] != "203.0.113.7:"+u.Port() {
		t.Errorf("dials let through = %v, want the public address only", got)
	}

	// The seams themselves work: without DenyPrivate the name reaches the
	// loopback provider.
	allow := &Client{HTTP: newHTTPClient(HTTPOptions{Timeout: 5 * time.Second}, dialSeams{resolver: resolver, proxy: noProxy})}
	cfg.Endpoints.TokenURL = "http://internal.test:" + u.Port() + "/token"
	if _, err := allow.PollToken(t.Context(), cfg, testDeviceCode); err != nil {
		t.Fatalf("without DenyPrivate: %v", err)
	}
}

// TestDenyPrivateChecksProxiedTargets: through a proxy the dialer only sees
// the proxy's address, so the target is resolved and checked before the
// request goes out. The proxy itself (here on 127.0.0.1) is the
// administrator's and stays reachable, but only as a proxy.
func TestDenyPrivateChecksProxiedTargets(t *testing.T) {
	proxy := newProvider(t, replyJSON(200, tokenOK)) // answers as if it forwarded
	_, port, _ := net.SplitHostPort(proxy.Listener.Addr().String())
	resolver := fakeResolver(t, map[string][4]byte{
		"proxy.test.":    {127, 0, 0, 1},
		"internal.test.": {10, 0, 0, 7},
		"public.test.":   {203, 0, 113, 7},
	})
	proxyURL := &url.URL{Scheme: "http", Host: "proxy.test:" + port}
	proxyFunc := func(r *http.Request) (*url.URL, error) {
		if r.URL.Hostname() == "proxy.test" {
			return nil, nil // as NO_PROXY would
		}
		return proxyURL, nil
	}
	rec := &dialRecorder{}
	c := &Client{HTTP: newHTTPClient(HTTPOptions{Timeout: 5 * time.Second, DenyPrivate: true},
		dialSeams{resolver: resolver, proxy: proxyFunc, next: rec.control})}
	cfg := ClientConfig{ClientID: "x"}

	refused := []struct{ url, wantType string }{
		{"http://internal.test/token", "protocol"},
		{"http://10.0.0.7/token", "protocol"},
		{"http://unknown.test/token", "transient"},
	}
	for _, tc := range refused {
		cfg.Endpoints.TokenURL = tc.url
		_, err := c.PollToken(t.Context(), cfg, testDeviceCode)
		checkErrType(t, err, tc.wantType)
		if strings.Contains(err.Error(), "10.0.0.7") && !strings.Contains(tc.url, "10.0.0.7") {
			t.Errorf("%s: err names the resolved address: %v", tc.url, err)
		}
	}
	if n := len(proxy.requests()); n != 0 {
		t.Fatalf("the proxy got %d requests for refused targets", n)
	}

	cfg.Endpoints.TokenURL = "http://public.test/token"
	if _, err := c.PollToken(t.Context(), cfg, testDeviceCode); err != nil {
		t.Fatalf("public target through the proxy: %v", err)
	}
	if got := proxy.last(t); got.Path != "/token" || got.Header.Get("User-Agent") != userAgent {
		t.Errorf("proxy saw %+v", got)
	}

	// A request that bypasses the proxy may not use the trust its address
	// gets as a proxy.
	before := len(proxy.requests())
	cfg.Endpoints.TokenURL = "http://proxy.test:" + port + "/token"
	_, err := c.PollToken(t.Context(), cfg, testDeviceCode)
	checkErrType(t, err, "protocol")
	if n := len(proxy.requests()) - before; n != 0 {
		t.Errorf("a direct request reached the proxy's address")
	}
}

// TestDenyPrivateErrorsDoNotScan: whatever goes wrong on the wire, a
// DenyPrivate client says only that it could not reach the host, so that
// error messages cannot tell an open port from a closed or filtered one.
func TestDenyPrivateErrorsDoNotScan(t *testing.T) {
	closed := newProvider(t, replyJSON(200, tokenOK))
	closedAddr := closed.Listener.Addr().String()
	closed.Close()

	release := make(chan struct{})
	hanging := newProvider(t, func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })

	resetter, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resetter.Close() })
	go func() {
		for {
			conn, err := resetter.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 1)
			_, _ = conn.Read(buf) // the request has started
			_ = conn.(*net.TCPConn).SetLinger(0)
			_ = conn.Close() // RST
		}
	}()
	plain := newProvider(t, replyJSON(200, tokenOK))

	scenarios := []struct{ name, addr, scheme string }{
		{"connection refused", closedAddr, "http"},
		{"timeout", hanging.Listener.Addr().String(), "http"},
		{"reset", resetter.Addr().String(), "http"},
		{"TLS to a plain HTTP server", plain.Listener.Addr().String(), "https"},
	}
	const generic = "temporary failure talking to provider: could not reach provider.test"
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			var errs [2]error
			for i, deny := range []bool{false, true} {
				dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, network, sc.addr)
				}
				hc := newHTTPClient(HTTPOptions{Timeout: 300 * time.Millisecond, DenyPrivate: deny, Dialer: dial}, dialSeams{proxy: noProxy})
				cfg := ClientConfig{ClientID: "x", Endpoints: Endpoints{TokenURL: sc.scheme + "://provider.test/token"}}
				_, errs[i] = (&Client{HTTP: hc}).PollToken(t.Context(), cfg, testDeviceCode)
				checkErrType(t, errs[i], "transient")
			}
			if errs[1].Error() != generic {
				t.Errorf("DenyPrivate: err = %q, want %q", errs[1], generic)
			}
			if errs[0].Error() == generic {
				t.Errorf("without DenyPrivate the reason should be specific, got %q", errs[0])
			}
		})
	}
}
