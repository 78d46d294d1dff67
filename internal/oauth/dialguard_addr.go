package oauth

import "net/netip"

var (
	// reservedPrefixes are the internal ranges netip has no predicate for,
	// with how InternalAddressReason names them.
	reservedPrefixes = []struct {
		prefix netip.Prefix
		reason string
	}{
		// "This network": 0.0.0.0 reaches the local host on Linux.
		{netip.MustParsePrefix("0.0.0.0/8"), "an unspecified address"},
		// Shared address space of carrier-grade NAT (RFC 6598), which
		// carriers and some clusters use internally.
		{netip.MustParsePrefix("100.64.0.0/10"), "a CGNAT address"},
		{netip.MustParsePrefix("192.0.0.0/24"), "a reserved address (IETF protocol assignments)"},
		{netip.MustParsePrefix("198.18.0.0/15"), "a reserved address (benchmarking)"},
		// Checked after the broadcast address, which it contains.
		{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
		{netip.MustParsePrefix("fec0::/10"), "a site-local address"},
		{netip.MustParsePrefix("64:ff9b:1::/48"), "a local-use NAT64 address"}, // RFC 8215
	}
	// Prefixes of IPv6 forms that embed an IPv4 address, which is checked
	// in their place: NAT64 (RFC 6052) and 6to4 (RFC 3056) gateways would
	// forward to it, and the deprecated IPv4-compatible form is treated as
	// the address it names.
	nat64Prefix     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFourPrefix = netip.MustParsePrefix("2002::/16")
	v4CompatPrefix  = netip.MustParsePrefix("::/96")
	broadcast       = netip.AddrFrom4([4]byte{255, 255, 255, 255})
)

// InternalAddressReason says whether ip is an internal address, one that a
// provider written by a tenant may not reach, and which kind, as a phrase
// such as "a loopback address" that reads after "is". Internal are loopback,
// unspecified (0.0.0.0/8, ::), private (RFC 1918 and ULA fc00::/7),
// link-local (the cloud metadata addresses among them), multicast and
// broadcast, CGNAT (100.64.0.0/10), the reserved 192.0.0.0/24,
// 198.18.0.0/15 and 240.0.0.0/4, site-local fec0::/10 and local-use NAT64
// 64:ff9b:1::/48; and, written as IPv6, any of these in IPv4-mapped form,
// or embedded in NAT64, 6to4 or IPv4-compatible form ("(written as IPv6)"
// is appended for the embedded forms). A zone is ignored.
//
// It is the one classifier of the operator: the HTTP client applies it at
// dial time (HTTPOptions.DenyPrivate), and the provider controller to the
// literal addresses in a namespaced provider's endpoints.
func InternalAddressReason(ip netip.Addr) (reason string, internal bool) {
	eff := effectiveIP(ip)
	reason = internalReason(eff)
	if reason == "" {
		return "", false
	}
	if eff.Is4() && ip.WithZone("").Unmap().Is6() {
		reason += " (written as IPv6)"
	}
	return reason, true
}

// effectiveIP is the address a connection to ip really reaches: without a
// zone, IPv4-mapped addresses unmapped (so ::ffff:169.254.169.254 cannot
// sneak past the IPv4 prefix), and the IPv4 address embedded in NAT64, 6to4
// and IPv4-compatible forms (but :: and ::1 stay what they are).
func effectiveIP(ip netip.Addr) netip.Addr {
	ip = ip.WithZone("").Unmap()
	if !ip.Is6() || ip.IsUnspecified() || ip.IsLoopback() {
		return ip
	}
	b := ip.As16()
	switch {
	case nat64Prefix.Contains(ip), v4CompatPrefix.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16]))
	case sixToFourPrefix.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6]))
	}
	return ip
}

// internalReason names the kind of internal address ip is, "" for a public
// one. ip must already be effectiveIP's result.
func internalReason(ip netip.Addr) string {
	switch {
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsUnspecified():
		return "an unspecified address"
	case ip.IsPrivate():
		return "a private address" // 10/8, 172.16/12, 192.168/16 and ULA fc00::/7
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return "a link-local address"
	case ip.IsMulticast(), ip == broadcast:
		return "a multicast or broadcast address"
	}
	for _, p := range reservedPrefixes {
		if p.prefix.Contains(ip) {
			return p.reason
		}
	}
	return ""
}
