// Package presets knows the endpoints and quirks of well-known providers, so that a provider object
// needs little more than a client ID. Each preset is one row of the table below; the controller
// consults the table and never special-cases a provider anywhere else.
//
// Every row is exercised against a simulation of that provider (internal/providersim) by the
// conformance specs in controllers/presets_conformance_test.go; docs/providers.md says how to
// register an application at each provider.
package presets

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
)

// Preset is one provider's row.
type Preset struct {
	// DefaultBaseURL is the public service; IssuerURL in the spec replaces it for self-hosted
	// instances (or, for Microsoft, names the tenant's authority).
	DefaultBaseURL string
	// DevicePath, TokenPath and RevocationPath are joined to the base URL, exactly as written
	// (Sentry's trailing slashes matter).
	DevicePath, TokenPath, RevocationPath string
	// UserinfoURL names the user who approved, for a provider without ID tokens: the public
	// service's URL, and UserinfoPath, joined to the base URL of a self-hosted instance.
	UserinfoURL, UserinfoPath string
	// JWKSURL is where the public service publishes the keys that sign its ID tokens, and
	// JWKSPath, joined to the base URL, where an instance named by issuerURL does (or everywhere,
	// when JWKSURL is ""). Only a preset with idTokenIssuer uses them.
	JWKSURL, JWKSPath string
	// idTokenIssuer gives, for a base URL, the iss of the ID tokens of a provider whose discovery
	// is not asked: Google's fixed issuer, Entra's from the tenant the authority names. The
	// issuer never follows a base URL's host: a base URL moves the endpoints (to a simulation in
	// tests), never the issuer the tokens must name.
	idTokenIssuer func(base string) string
	// Discovery says whether the base URL serves OIDC discovery worth asking (ID-token keys,
	// userinfo). The preset's paths stay in force when discovery fails.
	Discovery bool
	// AuthStyle is the client authentication this provider wants when a client secret is set;
	// without one, the client is public and sends its client_id alone.
	AuthStyle oauth.AuthStyle
	// ClientSecretRequired says the provider refuses the device flow without a client secret
	// (Google: its device clients are confidential, and the token endpoint wants the secret).
	ClientSecretRequired bool
	// Quirks switch the client's tolerance for this provider's deviations from RFC 8628.
	Quirks oauth.Quirks
}

// table holds every preset. Facts come from each provider's documentation and code; the comment
// above each row lists what the row handles.
var table = map[string]Preset{
	// Sentry (sentry.io and self-hosted Sentry under its own URL): no discovery document; paths
	// end in a slash; public applications send only client_id, and a request with both a Basic
	// header and credentials in the body is refused (invalid_request), so a secret travels in the
	// body alone; each device code may be polled once per 5-second window, else slow_down, so the
	// client polls with a margin; errors are HTTP 400 with nothing but {"error": ...}; a refresh
	// rotates both tokens, the old refresh token dies at once (and replaying it revokes the new
	// ones), and a refresh that sends scope is refused (the client never sends one); the token
	// response's user object names who approved.
	"Sentry": {
		DefaultBaseURL: "https://sentry.io",
		DevicePath:     "/oauth/device/code/", TokenPath: "/oauth/token/",
		AuthStyle: oauth.AuthPost,
		Quirks:    oauth.Quirks{PollMargin: time.Second},
	},
	// GitHub (github.com, and GitHub Enterprise Server under its base URL): answers form-encoded
	// unless asked for JSON (the client always asks, and parses form answers anyway); errors arrive with HTTP 200; slow_down carries the new interval;
	// granted scopes are comma-separated; codes of its own for a refused refresh token, an
	// unknown device code and wrong client credentials. OAuth Apps get tokens that never expire
	// and no refresh token; GitHub Apps with expiring tokens get 8-hour tokens and rotating
	// refresh tokens, refreshed with the client secret in the body.
	"GitHub": {
		DefaultBaseURL: "https://github.com",
		// The REST API's user endpoint says who approved: its own host on github.com, /api/v3 on
		// GitHub Enterprise Server.
		UserinfoURL: "https://api.github.com/user", UserinfoPath: "/api/v3/user",
		DevicePath: "/login/device/code", TokenPath: "/login/oauth/access_token",
		AuthStyle: oauth.AuthPost,
		Quirks: oauth.Quirks{CommaSeparatedScope: true, ErrorCodes: map[string]string{
			"bad_refresh_token":            "invalid_grant",
			"incorrect_device_code":        "invalid_grant",
			"incorrect_client_credentials": "invalid_client",
		}},
	},
	// Google: verification_url instead of verification_uri; the client secret is needed when
	// polling and refreshing (it goes in the body); authorization_pending comes with HTTP 428,
	// slow_down and access_denied with 403; refresh tokens are not rotated. ID tokens come from
	// the fixed issuer https://accounts.google.com (iss is sometimes written without the scheme,
	// which the verifier accepts for this issuer only), signed with the keys of its certs URL.
	"Google": {
		DefaultBaseURL: "https://oauth2.googleapis.com",
		DevicePath:     "/device/code", TokenPath: "/token", RevocationPath: "/revoke",
		JWKSURL: "https://www.googleapis.com/oauth2/v3/certs", JWKSPath: "/oauth2/v3/certs",
		idTokenIssuer:        func(string) string { return "https://accounts.google.com" },
		AuthStyle:            oauth.AuthPost,
		ClientSecretRequired: true,
	},
	// Microsoft Entra ID: the tenant's authority (https://login.microsoftonline.com/<tenant>) is the
	// base URL; the default authority "common" serves every tenant. A message field and no
	// verification_uri_complete; authorization_declined means denied and bad_verification_code an
	// unknown device code; the v1 endpoints send numbers as strings; a refresh token only with
	// offline_access; a public client must not send a secret. ID tokens are signed with the
	// authority's keys (discovery/v2.0/keys) and issued by the tenant (entraIssuer).
	"Microsoft": {
		DefaultBaseURL: "https://login.microsoftonline.com/common",
		DevicePath:     "/oauth2/v2.0/devicecode", TokenPath: "/oauth2/v2.0/token",
		JWKSPath:      "/discovery/v2.0/keys",
		idTokenIssuer: entraIssuer,
		AuthStyle:     oauth.AuthPost,
		Quirks: oauth.Quirks{ErrorCodes: map[string]string{
			"authorization_declined": "access_denied",
			"bad_verification_code":  "invalid_grant",
		}},
	},
	// GitLab (gitlab.com and self-managed): RFC-shaped answers; OIDC discovery for ID token keys
	// and userinfo; a client-ID-only flow needs a non-confidential application.
	"GitLab": {
		DefaultBaseURL: "https://gitlab.com",
		DevicePath:     "/oauth/authorize_device", TokenPath: "/oauth/token", RevocationPath: "/oauth/revoke",
		Discovery: true,
		AuthStyle: oauth.AuthPost,
	},
}

// Lookup returns the named preset.
func Lookup(name string) (Preset, error) {
	p, ok := table[name]
	if !ok {
		return Preset{}, fmt.Errorf("unknown preset %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	return p, nil
}

// Names lists the presets, sorted.
func Names() []string {
	names := make([]string, 0, len(table))
	for n := range table {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// BaseURL is the base the preset's paths are joined to: baseURL without trailing slashes, or the
// public service when baseURL is "". It is also the issuer to discover when Discovery is set.
func (p Preset) BaseURL(baseURL string) string {
	base := strings.TrimRight(baseURL, "/")
	if base == "" {
		base = p.DefaultBaseURL
	}
	return base
}

// Endpoints returns the preset's endpoints under baseURL ("" for the public service).
func (p Preset) Endpoints(baseURL string) oauth.Endpoints {
	base := p.BaseURL(baseURL)
	e := oauth.Endpoints{DeviceAuthorizationURL: base + p.DevicePath, TokenURL: base + p.TokenPath}
	if p.RevocationPath != "" {
		e.RevocationURL = base + p.RevocationPath
	}
	switch {
	case baseURL == "" && p.UserinfoURL != "":
		e.UserinfoURL = p.UserinfoURL
	case baseURL != "" && p.UserinfoPath != "":
		e.UserinfoURL = base + p.UserinfoPath
	}
	if p.idTokenIssuer != nil {
		e.Issuer = p.idTokenIssuer(base)
		e.JWKSURL = base + p.JWKSPath
		if baseURL == "" && p.JWKSURL != "" {
			e.JWKSURL = p.JWKSURL
		}
	}
	return e
}
