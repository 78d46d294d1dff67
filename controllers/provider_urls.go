package controllers

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
)

// FlagAllowPrivateNamespacedProviders is the manager flag that lets namespaced OAuthProviders use
// http and reach loopback, private, link-local, CGNAT and ULA addresses. Messages name it so that
// an admin knows what to set.
const FlagAllowPrivateNamespacedProviders = "--allow-private-namespaced-providers"

// maxEndpointLength bounds every endpoint, discovered ones included, as the CRD bounds the spec's.
const maxEndpointLength = 2048

// displayURL is how a provider URL appears in a condition message, an event or a log line: without
// userinfo, query or fragment, which may hold credentials (a password, an API key in a query
// parameter) that every reader of the status could otherwise see. What was removed is marked.
func displayURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unparseable URL)"
	}
	hadQuery := u.RawQuery != "" || u.ForceQuery || u.Fragment != ""
	if u.User != nil {
		u.User = url.User("redacted")
	}
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
	s := u.String()
	if hadQuery {
		s += "?redacted"
	}
	return truncateMiddle(s, 200)
}

// truncateMiddle shortens s to at most n bytes, keeping both ends.
func truncateMiddle(s string, n int) string {
	if len(s) <= n {
		return s
	}
	half := (n - 3) / 2
	return s[:half] + "..." + s[len(s)-half:]
}

// endpointError is a resolved endpoint that may not be used; reason is the Ready reason.
type endpointError struct {
	reason string
	msg    string
}

func (e *endpointError) Error() string { return e.msg }

// checkEndpoints applies checkURL to every endpoint in use, and refuses allowInsecureHTTP on a
// namespaced OAuthProvider unless the manager flag allows it.
func (r *ProviderReconciler) checkEndpoints(obj authv1alpha1.ProviderObject, e oauth.Endpoints) *endpointError {
	if r.tenant(obj) && obj.ProviderSpec().AllowInsecureHTTP {
		return &endpointError{reason: ReasonInsecureEndpoint, msg: fmt.Sprintf(
			"allowInsecureHTTP is refused on an OAuthProvider unless the operator runs with %s (an admin's choice); use https, or a ClusterOAuthProvider",
			FlagAllowPrivateNamespacedProviders)}
	}
	for _, f := range []struct{ name, value string }{
		{"issuer", e.Issuer},
		{"device authorization endpoint", e.DeviceAuthorizationURL},
		{"token endpoint", e.TokenURL},
		{"revocation endpoint", e.RevocationURL},
		{"userinfo endpoint", e.UserinfoURL},
		{"JWKS endpoint", e.JWKSURL},
	} {
		if err := r.checkURL(obj, f.name, f.value); err != nil {
			return err
		}
	}
	return nil
}

// tenant says whether obj is held to the rules for namespaced OAuthProviders: any namespace-edit
// user may write one, so it may not point the operator at internal addresses.
func (r *ProviderReconciler) tenant(obj authv1alpha1.ProviderObject) bool {
	return obj.GetNamespace() != "" && !r.AllowPrivateNamespacedProviders
}

// checkURL applies the rules every provider URL meets ("" passes): an absolute URL of bounded
// length without userinfo, https unless allowInsecureHTTP, and, for a namespaced OAuthProvider
// without the manager flag, no literal internal address (see privateHost). Names that resolve to
// such addresses are refused at dial time by the HTTP client.
func (r *ProviderReconciler) checkURL(obj authv1alpha1.ProviderObject, name, value string) *endpointError {
	if value == "" {
		return nil
	}
	if len(value) > maxEndpointLength {
		return &endpointError{reason: ReasonInvalidEndpoint, msg: fmt.Sprintf("%s %s is longer than %d characters", name, displayURL(value), maxEndpointLength)}
	}
	u, err := url.Parse(value)
	if err != nil || u.Host == "" {
		return &endpointError{reason: ReasonInvalidEndpoint, msg: fmt.Sprintf("%s %s is not an absolute URL", name, displayURL(value))}
	}
	if u.User != nil {
		return &endpointError{reason: ReasonInvalidEndpoint, msg: fmt.Sprintf(
			"%s %s carries credentials (user:password@) in the URL, which every reader of the status would see; the URL is refused", name, displayURL(value))}
	}
	if u.Scheme != "https" && (u.Scheme != "http" || !obj.ProviderSpec().AllowInsecureHTTP) {
		return &endpointError{reason: ReasonInsecureEndpoint, msg: fmt.Sprintf(
			"%s %s is not https; set allowInsecureHTTP: true only for a provider on a trusted local network", name, displayURL(value))}
	}
	if r.tenant(obj) {
		if why := privateHost(u.Hostname()); why != "" {
			return &endpointError{reason: ReasonPrivateEndpoint, msg: fmt.Sprintf(
				"%s %s is %s; an OAuthProvider may not reach it unless the operator runs with %s (an admin's choice); use a ClusterOAuthProvider for a provider inside the cluster or network",
				name, displayURL(value), why, FlagAllowPrivateNamespacedProviders)}
		}
	}
	return nil
}

// privateHost says why host (a URL's hostname) names an address a tenant's provider may not reach,
// or "" when it does not: "localhost" and its subdomains, numeric forms that are not a canonical IP
// (127.1, 0x7f.0.0.1, 2130706433), which some resolvers read as addresses, and every IP address
// oauth.InternalAddressReason calls internal, which the HTTP client also refuses at dial time.
func privateHost(host string) string {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return "a loopback name"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		last := host[strings.LastIndex(host, ".")+1:]
		if last != "" && last[0] >= '0' && last[0] <= '9' {
			// No top-level domain starts with a digit: this is an address in a form we do not read.
			return "a numeric host that is not a canonical IP address"
		}
		return ""
	}
	why, _ := oauth.InternalAddressReason(ip)
	return why
}
