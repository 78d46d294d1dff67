// Package presets knows the endpoints and quirks of well-known providers, so that a provider object
// needs little more than a client ID. Each preset is one row of the table below; the controller
// consults the table and never special-cases a provider anywhere else.
package presets

import (
	"fmt"
	"strings"
	"time"

	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
)

// Preset is one provider's row.
type Preset struct {
	// DefaultBaseURL is the public service; IssuerURL in the spec replaces it for self-hosted
	// instances (or, for Microsoft, names the tenant's authority).
	DefaultBaseURL string
	// DevicePath, TokenPath, RevocationPath and VerificationPath are joined to the base URL.
	DevicePath, TokenPath, RevocationPath string
	// Discovery says whether the base URL serves OIDC discovery worth asking (ID-token keys).
	Discovery bool
	// AuthStyle is the client authentication this provider wants when a client secret is set.
	AuthStyle oauth.AuthStyle
	// Quirks switch the client's tolerance for this provider's deviations from RFC 8628.
	Quirks oauth.Quirks
}

// table holds every preset. Facts come from each provider's documentation.
var table = map[string]Preset{
	// Sentry: no discovery; trailing slashes; public clients send only client_id (a Basic header
	// plus body credentials is refused); at most one poll per 5-second window, so poll with a margin.
	"Sentry": {
		DefaultBaseURL: "https://sentry.io",
		DevicePath:     "/oauth/device/code/", TokenPath: "/oauth/token/",
		AuthStyle: oauth.AuthPost,
		Quirks:    oauth.Quirks{AcceptJSON: true, NoScopeOnRefresh: true, PollMargin: time.Second},
	},
	// GitHub (and GitHub Enterprise Server under its base URL): form-encoded answers unless
	// Accept: application/json, errors with HTTP 200, slow_down carries a new interval.
	"GitHub": {
		DefaultBaseURL: "https://github.com",
		DevicePath:     "/login/device/code", TokenPath: "/login/oauth/access_token",
		AuthStyle: oauth.AuthPost,
		Quirks:    oauth.Quirks{AcceptJSON: true},
	},
	// Google: verification_url instead of verification_uri; the client secret is needed when polling.
	"Google": {
		DefaultBaseURL: "https://oauth2.googleapis.com",
		DevicePath:     "/device/code", TokenPath: "/token", RevocationPath: "/revoke",
		AuthStyle: oauth.AuthPost,
		Quirks:    oauth.Quirks{AcceptJSON: true},
	},
	// Microsoft Entra ID: the tenant's authority (https://login.microsoftonline.com/<tenant>) is the
	// base URL; the default authority "common" serves every tenant.
	"Microsoft": {
		DefaultBaseURL: "https://login.microsoftonline.com/common",
		DevicePath:     "/oauth2/v2.0/devicecode", TokenPath: "/oauth2/v2.0/token",
		AuthStyle: oauth.AuthPost,
		Quirks:    oauth.Quirks{AcceptJSON: true},
	},
	// GitLab (gitlab.com and self-managed): RFC-shaped answers.
	"GitLab": {
		DefaultBaseURL: "https://gitlab.com",
		DevicePath:     "/oauth/authorize_device", TokenPath: "/oauth/token", RevocationPath: "/oauth/revoke",
		Discovery: true,
		AuthStyle: oauth.AuthPost,
		Quirks:    oauth.Quirks{AcceptJSON: true},
	},
}

// Lookup returns the named preset.
func Lookup(name string) (Preset, error) {
	p, ok := table[name]
	if !ok {
		return Preset{}, fmt.Errorf("unknown preset %q", name)
	}
	return p, nil
}

// Endpoints returns the preset's endpoints under baseURL ("" for the public service).
func (p Preset) Endpoints(baseURL string) oauth.Endpoints {
	base := strings.TrimRight(baseURL, "/")
	if base == "" {
		base = p.DefaultBaseURL
	}
	e := oauth.Endpoints{DeviceAuthorizationURL: base + p.DevicePath, TokenURL: base + p.TokenPath}
	if p.RevocationPath != "" {
		e.RevocationURL = base + p.RevocationPath
	}
	return e
}
