package oauth

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestRedirectToAnotherHostRefused(t *testing.T) {
	other := newProvider(t, replyJSON(200, tokenOK))
	_, port, _ := net.SplitHostPort(other.Listener.Addr().String())
	// Same machine, but "localhost" and "127.0.0.1" are different hosts.
	target := "http://localhost:" + port + "/token"
	origin := newProvider(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target, http.StatusTemporaryRedirect)
	})
	cfg := testConfig(origin)
	_, err := (&Client{HTTP: testHTTP()}).PollToken(t.Context(), cfg, testDeviceCode)
	checkErrType(t, err, "protocol")
	if !strings.Contains(err.Error(), "another host") {
		t.Errorf("err = %v", err)
	}
	assertNoSecrets(t, err)
	if n := len(other.requests()); n != 0 {
		t.Errorf("the other host got %d requests, want 0", n)
	}
}

func TestRedirectSameHost(t *testing.T) {
	p := newProvider(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/token":
			http.Redirect(w, r, "/v2/token", http.StatusPermanentRedirect)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusTemporaryRedirect)
		default:
			reply(w, 200, "application/json", tokenOK)
		}
	})
	c := &Client{HTTP: testHTTP()}
	cfg := testConfig(p)
	tok, err := c.PollToken(t.Context(), cfg, testDeviceCode)
	if err != nil || tok.AccessToken != testAccessToken {
		t.Fatalf("same-host redirect: %v", err)
	}
	if got := p.last(t); got.Path != "/v2/token" || got.Form.Get("device_code") != testDeviceCode {
		t.Errorf("redirected request = %+v", got)
	}

	before := len(p.requests())
	cfg.Endpoints.TokenURL = p.URL + "/loop"
	_, err = c.PollToken(t.Context(), cfg, testDeviceCode)
	checkErrType(t, err, "protocol")
	if n := len(p.requests()) - before; n != maxRedirects+1 {
		t.Errorf("loop made %d requests, want %d", n, maxRedirects+1)
	}
}

func TestLiteralMetadataURLRefusedBeforeDialing(t *testing.T) {
	var dials atomic.Int32
	hc := NewHTTPClient(HTTPOptions{Timeout: time.Second, Dialer: func(context.Context, string, string) (net.Conn, error) {
		dials.Add(1)
		return nil, errors.New("test dialer: must not be reached")
	}})
	cfg := ClientConfig{ClientID: "x", Endpoints: Endpoints{TokenURL: "http://169.254.169.254/latest/meta-data/"}}
	_, err := (&Client{HTTP: hc}).PollToken(t.Context(), cfg, testDeviceCode)
	checkErrType(t, err, "protocol")
	if dials.Load() != 0 || !strings.Contains(err.Error(), "metadata") {
		t.Errorf("dials = %d, err = %v", dials.Load(), err)
	}
}

// TestResolvedMetadataAddressRefused resolves names through a fake DNS
// server on 127.0.0.1, so the real dialer's Control hook sees a metadata
// address that only DNS produced. The guard hook aborts any connect the
// check would let through, so no packet can ever leave for 169.254.x.
func TestResolvedMetadataAddressRefused(t *testing.T) {
	dnsAddr, queries := startFakeDNS(t, map[string][4]byte{
		"metadata.test.": {169, 254, 169, 254},
		"provider.test.": {127, 0, 0, 1},
	})
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", dnsAddr)
	}}
	guard := func(_, address string, _ syscall.RawConn) error {
		if host, _, _ := net.SplitHostPort(address); host != "127.0.0.1" {
			t.Errorf("dial to %s was not blocked", address)
			return errors.New("test guard: dial aborted")
		}
		return nil
	}
	dialer := newDialer(addressPolicy{}, resolver, guard)
	c := &Client{HTTP: NewHTTPClient(HTTPOptions{Timeout: 5 * time.Second, Dialer: dialer.DialContext})}

	p := newProvider(t, replyJSON(200, tokenOK))
	u, _ := url.Parse(p.URL)
	cfg := testConfig(p)
	cfg.Endpoints.TokenURL = "http://provider.test:" + u.Port() + "/token"
	if _, err := c.PollToken(t.Context(), cfg, testDeviceCode); err != nil {
		t.Fatalf("resolver seam does not reach the loopback provider: %v", err)
	}

	cfg.Endpoints.TokenURL = "http://metadata.test:" + u.Port() + "/token"
	_, err := c.PollToken(t.Context(), cfg, testDeviceCode)
	checkErrType(t, err, "protocol")
	if !strings.Contains(err.Error(), "169.254.169.254") || !strings.Contains(err.Error(), "metadata") {
		t.Errorf("err = %v", err)
	}
	if queries.Load() == 0 {
		t.Error("fake DNS server saw no query")
	}
}

// startFakeDNS answers A queries from names over UDP on 127.0.0.1 and
// every other query with an empty NOERROR answer.
func startFakeDNS(t *testing.T, names map[string][4]byte) (string, *atomic.Int32) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	var queries atomic.Int32
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			queries.Add(1)
			if resp := dnsAnswer(buf[:n], names); resp != nil {
				_, _ = pc.WriteTo(resp, from)
			}
		}
	}()
	return pc.LocalAddr().String(), &queries
}

// dnsAnswer builds a response to a single-question query (RFC 1035 4.1).
func dnsAnswer(q []byte, names map[string][4]byte) []byte {
	if len(q) < 12 {
		return nil
	}
	i := 12
	var labels []string
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if i+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	if i+5 > len(q) {
		return nil
	}
	question := q[12 : i+5]
	qtype := binary.BigEndian.Uint16(q[i+1 : i+3])
	ip, known := names[strings.ToLower(strings.Join(labels, ".")+".")]

	resp := make([]byte, 12, 64)
	copy(resp, q[:2])                            // ID
	binary.BigEndian.PutUint16(resp[2:], 0x8580) // QR, AA, RD, RA
	binary.BigEndian.PutUint16(resp[4:], 1)      // QDCOUNT
	if !known {
		binary.BigEndian.PutUint16(resp[2:], 0x8583) // NXDOMAIN
	}
	resp = append(resp, question...)
	if known && qtype == 1 {
		binary.BigEndian.PutUint16(resp[6:], 1) // ANCOUNT
		resp = append(resp, 0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
		resp = append(resp, ip[:]...)
	}
	return resp
}

// Issue 12: concurrent polls to one provider keep their connections for reuse, instead of the
// default two idle connections per host (the rest closed after each poll and dialled again).
func TestTransportKeepsConnectionsPerHost(t *testing.T) {
	for _, o := range []HTTPOptions{{}, {DenyPrivate: true}} {
		guard, ok := NewHTTPClient(o).Transport.(*guardTransport)
		if !ok {
			t.Fatalf("transport is %T", NewHTTPClient(o).Transport)
		}
		tr, ok := guard.base.(*http.Transport)
		if !ok {
			t.Fatalf("base transport is %T", guard.base)
		}
		if tr.MaxIdleConnsPerHost < 8 || tr.MaxIdleConns < tr.MaxIdleConnsPerHost {
			t.Errorf("DenyPrivate=%t: %d idle connections per host, %d in all; want at least 8 per host",
				o.DenyPrivate, tr.MaxIdleConnsPerHost, tr.MaxIdleConns)
		}
	}
}
