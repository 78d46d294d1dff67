package presets

import (
	"strings"
	"testing"

	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
)

// TestIDTokenIssuerAndKeys pins the issuer each ID token must name and where its keys are: the
// real issuer whatever the base URL, the keys under the base URL when one is set (a simulation,
// in tests), the public service's otherwise.
func TestIDTokenIssuerAndKeys(t *testing.T) {
	const (
		tid       = "6f2ad8a4-1b3c-4e5d-9f60-7a8b9c0d1e2f"
		consumers = "9188040d-6c67-4c5b-b112-36a304b66dad"
		template  = "https://login.microsoftonline.com/{tenantid}/v2.0"
		ms        = "https://login.microsoftonline.com/"
	)
	tests := []struct {
		preset, base, issuer, jwks string
	}{
		{"Google", "", "https://accounts.google.com", "https://www.googleapis.com/oauth2/v3/certs"},
		{"Google", "http://127.0.0.1:8080", "https://accounts.google.com", "http://127.0.0.1:8080/oauth2/v3/certs"},
		{"Microsoft", "", template, ms + "common/discovery/v2.0/keys"},
		{"Microsoft", ms + "organizations", template, ms + "organizations/discovery/v2.0/keys"},
		{"Microsoft", ms + "consumers", ms + consumers + "/v2.0", ms + "consumers/discovery/v2.0/keys"},
		{"Microsoft", ms + tid, ms + tid + "/v2.0", ms + tid + "/discovery/v2.0/keys"},
		{"Microsoft", ms + strings.ToUpper(tid) + "/", ms + tid + "/v2.0", ms + strings.ToUpper(tid) + "/discovery/v2.0/keys"},
		{"Microsoft", ms + "contoso.onmicrosoft.com", template, ms + "contoso.onmicrosoft.com/discovery/v2.0/keys"},
		{"Microsoft", "http://127.0.0.1:8080/" + tid, ms + tid + "/v2.0", "http://127.0.0.1:8080/" + tid + "/discovery/v2.0/keys"},
		{"Microsoft", "http://127.0.0.1:8080/common", template, "http://127.0.0.1:8080/common/discovery/v2.0/keys"},
	}
	for _, tc := range tests {
		p, _ := Lookup(tc.preset)
		e := p.Endpoints(tc.base)
		if e.Issuer != tc.issuer || e.JWKSURL != tc.jwks {
			t.Errorf("%s under %q: issuer %q, keys %q; want %q, %q", tc.preset, tc.base, e.Issuer, e.JWKSURL, tc.issuer, tc.jwks)
		}
	}
	if !strings.Contains(template, oauth.TenantIDPlaceholder) {
		t.Errorf("the template is the one the oauth client fills in: %s", oauth.TenantIDPlaceholder)
	}
}
