package oauth

import (
	"net/netip"
	"strings"
	"testing"
)

// TestInternalAddressReason: every internal range, in every spelling an
// address can take, with the phrase messages show; and public neighbours of
// each range, which pass.
func TestInternalAddressReason(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1":            "a loopback address",
		"127.255.255.254":      "a loopback address",
		"::1":                  "a loopback address",
		"0.0.0.0":              "an unspecified address",
		"0.1.2.3":              "an unspecified address",
		"::":                   "an unspecified address",
		"10.0.0.1":             "a private address",
		"172.16.0.1":           "a private address",
		"172.31.255.255":       "a private address",
		"192.168.1.1":          "a private address",
		"fc00::1":              "a private address",
		"fd00:ec2::254":        "a private address",
		"169.254.169.254":      "a link-local address",
		"fe80::1":              "a link-local address",
		"fe80::1%eth0":         "a link-local address",
		"224.0.0.1":            "a link-local address",
		"ff02::1":              "a link-local address",
		"239.1.2.3":            "a multicast or broadcast address",
		"ff0e::1":              "a multicast or broadcast address",
		"255.255.255.255":      "a multicast or broadcast address",
		"100.64.0.1":           "a CGNAT address",
		"100.127.255.255":      "a CGNAT address",
		"192.0.0.8":            "a reserved address (IETF protocol assignments)",
		"198.18.0.1":           "a reserved address (benchmarking)",
		"198.19.255.254":       "a reserved address (benchmarking)",
		"240.0.0.1":            "a reserved address",
		"fec0::1":              "a site-local address",
		"64:ff9b:1::1":         "a local-use NAT64 address",
		"::ffff:10.0.0.1":      "a private address",
		"::ffff:127.0.0.1":     "a loopback address",
		"64:ff9b::7f00:1":      "a loopback address (written as IPv6)",
		"64:ff9b::a9fe:a9fe":   "a link-local address (written as IPv6)",
		"2002:7f00:1::1":       "a loopback address (written as IPv6)",
		"2002:c612:1::1":       "a reserved address (benchmarking) (written as IPv6)",
		"::7f00:1":             "a loopback address (written as IPv6)",
		"::c0a8:101":           "a private address (written as IPv6)",
		"8.8.8.8":              "",
		"203.0.113.7":          "",
		"172.32.0.1":           "",
		"100.128.0.1":          "",
		"169.255.0.1":          "",
		"192.0.1.1":            "",
		"198.20.0.1":           "",
		"223.255.255.255":      "",
		"2001:4860:4860::8888": "",
		"64:ff9b::808:808":     "",
		"2002:808:808::1":      "",
	} {
		got, internal := InternalAddressReason(netip.MustParseAddr(addr))
		if got != want || internal != (want != "") {
			t.Errorf("InternalAddressReason(%s) = %q, %v; want %q, %v", addr, got, internal, want, want != "")
		}
	}
}

// TestAddressPolicyNamesTheReason: a DenyPrivate refusal says what kind of
// address it met, in InternalAddressReason's words, and which option refused it.
func TestAddressPolicyNamesTheReason(t *testing.T) {
	deny := addressPolicy{denyPrivate: true, allowMetadata: true}
	for addr, want := range map[string]string{
		"198.18.0.1:443":       "refusing to connect to 198.18.0.1:443: a reserved address (benchmarking) (HTTPOptions.DenyPrivate is true)",
		"[2002:7f00:1::1]:443": "refusing to connect to [2002:7f00:1::1]:443: a loopback address (written as IPv6) (HTTPOptions.DenyPrivate is true)",
	} {
		if err := deny.check(addr); err == nil || err.Error() != want {
			t.Errorf("check(%s) = %v; want %q", addr, err, want)
		}
	}
	err := addressPolicy{}.check("169.254.169.254:80")
	if err == nil || !strings.HasSuffix(err.Error(), ": a cloud metadata address (HTTPOptions.AllowMetadataIPs is false)") {
		t.Errorf("check(metadata) = %v", err)
	}
}
