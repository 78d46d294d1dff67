package oauth

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// metadataJSON is a discovery document for issuer, with endpoints under base.
func metadataJSON(issuer, base string, withDevice bool) string {
	device := ""
	if withDevice {
		device = `"device_authorization_endpoint":"` + base + `/device",`
	}
	return fmt.Sprintf(`{"issuer":%q,%s"token_endpoint":"%s/token","revocation_endpoint":"%s/revoke",`+
		`"userinfo_endpoint":"%s/userinfo","jwks_uri":"%s/jwks","authorization_endpoint":"%s/auth"}`,
		issuer, device, base, base, base, base, base)
}

func TestDiscover(t *testing.T) {
	type docs map[string]func(issuer, base string) (int, string, string) // path -> status, content type, body
	ok := func(withDevice bool) func(string, string) (int, string, string) {
		return func(issuer, base string) (int, string, string) {
			return 200, "application/json", metadataJSON(issuer, base, withDevice)
		}
	}
	tests := []struct {
		name       string
		issuerPath string
		docs       docs
		wantIssuer bool // Endpoints.Issuer set (OIDC)
		wantErr    []string
		transient  bool
		notFetched string
	}{
		{
			name: "oidc", issuerPath: "",
			docs:       docs{"/.well-known/openid-configuration": ok(true)},
			wantIssuer: true,
		},
		{
			name: "oidc with path issuer", issuerPath: "/realms/dev",
			docs:       docs{"/realms/dev/.well-known/openid-configuration": ok(true)},
			wantIssuer: true,
		},
		{
			name: "oidc without device endpoint", issuerPath: "",
			docs:    docs{"/.well-known/openid-configuration": ok(false)},
			wantErr: []string{"no device_authorization_endpoint in discovery document at", "/.well-known/openid-configuration"},
		},
		{
			name: "oidc issuer mismatch is reported, not a fallback", issuerPath: "/tenant",
			docs: docs{
				"/tenant/.well-known/openid-configuration": func(_, base string) (int, string, string) {
					return 200, "application/json", metadataJSON("https://evil.example", base, true)
				},
				"/.well-known/oauth-authorization-server/tenant": ok(true),
			},
			wantErr:    []string{"names issuer \"https://evil.example\"", "must match"},
			notFetched: "/.well-known/oauth-authorization-server/tenant",
		},
		{
			name: "rfc 8414 fallback with path insertion", issuerPath: "/tenant",
			docs: docs{"/.well-known/oauth-authorization-server/tenant": ok(true)},
		},
		{
			name: "rfc 8414 fallback after html", issuerPath: "",
			docs: docs{
				"/.well-known/openid-configuration": func(string, string) (int, string, string) {
					return 200, "text/html", "<html>app shell</html>"
				},
				"/.well-known/oauth-authorization-server": ok(true),
			},
		},
		{
			name: "rfc 8414 issuer mismatch", issuerPath: "",
			docs: docs{"/.well-known/oauth-authorization-server": func(_, base string) (int, string, string) {
				return 200, "application/json", metadataJSON(base+"/other", base, true)
			}},
			wantErr: []string{"oauth-authorization-server names issuer"},
		},
		{
			name: "both missing", issuerPath: "/tenant", docs: docs{},
			wantErr: []string{
				"/tenant/.well-known/openid-configuration: HTTP 404; ",
				"/.well-known/oauth-authorization-server/tenant: HTTP 404",
			},
		},
		{
			name: "both unavailable is transient", issuerPath: "",
			docs: docs{
				"/.well-known/openid-configuration":       func(string, string) (int, string, string) { return 503, "", "" },
				"/.well-known/oauth-authorization-server": func(string, string) (int, string, string) { return 503, "", "" },
			},
			wantErr:   []string{"openid-configuration: HTTP 503; ", "oauth-authorization-server: HTTP 503"},
			transient: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p *provider
			p = newProvider(t, func(w http.ResponseWriter, r *http.Request) {
				h, found := tc.docs[r.URL.Path]
				if !found {
					http.NotFound(w, r)
					return
				}
				status, ct, body := h(p.URL+tc.issuerPath, p.URL)
				reply(w, status, ct, body)
			})
			issuer := p.URL + tc.issuerPath
			ep, err := Discover(t.Context(), testHTTP(), issuer)
			for _, r := range p.requests() {
				if tc.notFetched != "" && r.Path == tc.notFetched {
					t.Errorf("%s was fetched", r.Path)
				}
				if r.Header.Get("User-Agent") != userAgent {
					t.Errorf("User-Agent = %q", r.Header.Get("User-Agent"))
				}
			}
			if len(tc.wantErr) > 0 {
				var de *DiscoveryError
				if !errors.As(err, &de) {
					t.Fatalf("err = %v, want *DiscoveryError", err)
				}
				t.Log(err)
				for _, s := range tc.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q lacks %q", err, s)
					}
				}
				var te *TransientError
				if errors.As(err, &te) != tc.transient {
					t.Errorf("transient = %v, want %v", !tc.transient, tc.transient)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := Endpoints{
				DeviceAuthorizationURL: p.URL + "/device", TokenURL: p.URL + "/token", RevocationURL: p.URL + "/revoke",
				UserinfoURL: p.URL + "/userinfo", JWKSURL: p.URL + "/jwks",
			}
			if tc.wantIssuer {
				want.Issuer = issuer
			}
			if ep != want {
				t.Errorf("got %+v\nwant %+v", ep, want)
			}
		})
	}
}

func TestDiscoverBadIssuer(t *testing.T) {
	for _, issuer := range []string{"", "ftp://x", "https://", "https://h/?q=1", "::"} {
		_, err := Discover(t.Context(), testHTTP(), issuer)
		var de *DiscoveryError
		if !errors.As(err, &de) {
			t.Errorf("Discover(%q) = %v", issuer, err)
		}
	}
}

func TestRFC8414URL(t *testing.T) {
	for issuer, want := range map[string]string{
		"https://h":         "https://h/.well-known/oauth-authorization-server",
		"https://h/":        "https://h/.well-known/oauth-authorization-server",
		"https://h/p":       "https://h/.well-known/oauth-authorization-server/p",
		"https://h:8443/p/": "https://h:8443/.well-known/oauth-authorization-server/p",
	} {
		u, _ := url.Parse(issuer)
		if got := rfc8414URL(u); got != want {
			t.Errorf("rfc8414URL(%q) = %q, want %q", issuer, got, want)
		}
	}
}
