package controllers

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
)

// TestProviderDisplayURL: URLs reach messages without userinfo, query or fragment.
func TestProviderDisplayURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://idp.example.com/token":                           "https://idp.example.com/token",
		"https://alice:hunter2@idp.example.com/token":             "https://redacted@idp.example.com/token",
		"https://ghp_0123456789@idp.example.com/token":            "https://redacted@idp.example.com/token",
		"https://idp.example.com/token?api_key=s3cret":            "https://idp.example.com/token?redacted",
		"https://idp.example.com/token#access_token=s3cret":       "https://idp.example.com/token?redacted",
		"https://u:p@idp.example.com:8443/t?p=B2C_1_signin&k=s3c": "https://redacted@idp.example.com:8443/t?redacted",
		"http://127.0.0.1:5556/dex":                               "http://127.0.0.1:5556/dex",
		"https://idp.example.com/%zz?s3cret":                      "(an unparseable URL)",
		"":                                                        "",
	} {
		if got := displayURL(in); got != want {
			t.Errorf("displayURL(%q) = %q; want %q", in, got, want)
		}
	}
	long := "https://idp.example.com/" + strings.Repeat("a", 5000)
	if got := displayURL(long); len(got) > 200 || !strings.HasPrefix(got, "https://idp.example.com/") {
		t.Errorf("displayURL of a 5000-byte URL = %d bytes %q...; want at most 200 that start with the host", len(got), got[:40])
	}
}

// TestProviderPrivateHost: every address range a tenant's provider may not name, in the forms
// a URL can spell it, and public names and addresses that pass.
func TestProviderPrivateHost(t *testing.T) {
	for host, want := range map[string]string{
		"127.0.0.1":                 "a loopback address",
		"127.8.9.10":                "a loopback address",
		"::1":                       "a loopback address",
		"localhost":                 "a loopback name",
		"LOCALHOST.":                "a loopback name",
		"api.localhost":             "a loopback name",
		"10.0.0.1":                  "a private address",
		"172.16.5.4":                "a private address",
		"192.168.1.1":               "a private address",
		"fd12:3456::1":              "a private address",
		"169.254.169.254":           "a link-local address",
		"fe80::1":                   "a link-local address",
		"fe80::1%eth0":              "a link-local address",
		"100.64.0.1":                "a CGNAT address",
		"100.127.255.254":           "a CGNAT address",
		"0.0.0.0":                   "an unspecified address",
		"::":                        "an unspecified address",
		"0.1.2.3":                   "an unspecified address",
		"224.0.0.1":                 "a link-local address",
		"239.1.2.3":                 "a multicast or broadcast address",
		"255.255.255.255":           "a multicast or broadcast address",
		"::ffff:10.0.0.1":           "a private address",
		"::ffff:127.0.0.1":          "a loopback address",
		"64:ff9b::a00:1":            "a private address (written as IPv6)",
		"::a00:1":                   "a private address (written as IPv6)",
		"2002:a00:1::1":             "a private address (written as IPv6)",
		"192.0.0.8":                 "a reserved address (IETF protocol assignments)",
		"198.18.0.1":                "a reserved address (benchmarking)",
		"198.19.255.254":            "a reserved address (benchmarking)",
		"240.0.0.1":                 "a reserved address",
		"fec0::1":                   "a site-local address",
		"64:ff9b:1::1":              "a local-use NAT64 address",
		"127.1":                     "a numeric host that is not a canonical IP address",
		"2130706433":                "a numeric host that is not a canonical IP address",
		"0x7f.0.0.1":                "a numeric host that is not a canonical IP address",
		"idp.example.com":           "",
		"8.8.8.8":                   "",
		"100.128.0.1":               "",
		"2001:4860:4860::8888":      "",
		"64:ff9b::808:808":          "",
		"2002:808:808::1":           "",
		"198.20.0.1":                "",
		"192.0.1.1":                 "",
		"login.microsoftonline.com": "",
		"my-idp.internal":           "",
	} {
		if got := privateHost(host); got != want {
			t.Errorf("privateHost(%q) = %q; want %q", host, got, want)
		}
	}
}

// TestProviderPrivateEndpointRanges: a namespaced OAuthProvider's literal endpoint in a range the
// HTTP client refuses at dial time is refused at the provider already, with the Ready reason
// PrivateEndpoint, so the author reads why in the provider's status instead of a failed request.
func TestProviderPrivateEndpointRanges(t *testing.T) {
	for _, host := range []string{"198.18.0.1", "240.0.0.1", "192.0.0.8", "[2002:7f00:1::1]", "[fec0::1]", "[64:ff9b:1::1]"} {
		obj := &authv1alpha1.OAuthProvider{ObjectMeta: metav1.ObjectMeta{Name: "idp", Namespace: "team-a"}}
		e := oauth.Endpoints{DeviceAuthorizationURL: "https://idp.example.com/device", TokenURL: "https://" + host + "/token"}
		err := (&ProviderReconciler{}).checkEndpoints(obj, e)
		if err == nil || err.reason != ReasonPrivateEndpoint || !strings.HasPrefix(err.msg, "token endpoint https://"+host+"/token is a ") {
			t.Errorf("token endpoint on %s: err = %+v; want %s naming the token endpoint", host, err, ReasonPrivateEndpoint)
		}
		if err := (&ProviderReconciler{AllowPrivateNamespacedProviders: true}).checkEndpoints(obj, e); err != nil {
			t.Errorf("token endpoint on %s with %s: err = %+v; want none", host, FlagAllowPrivateNamespacedProviders, err)
		}
		cluster := &authv1alpha1.ClusterOAuthProvider{ObjectMeta: metav1.ObjectMeta{Name: "idp"}}
		if err := (&ProviderReconciler{}).checkEndpoints(cluster, e); err != nil {
			t.Errorf("token endpoint on %s of a ClusterOAuthProvider: err = %+v; want none", host, err)
		}
	}
}
