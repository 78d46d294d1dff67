package presets

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
)

// TestTableMatchesTheAPI keeps the table and the CRD's enum of preset names in step.
func TestTableMatchesTheAPI(t *testing.T) {
	api := []string{
		string(authv1alpha1.PresetGitHub), string(authv1alpha1.PresetGoogle), string(authv1alpha1.PresetMicrosoft),
		string(authv1alpha1.PresetSentry), string(authv1alpha1.PresetGitLab),
	}
	slices.Sort(api)
	if got := Names(); !slices.Equal(got, api) {
		t.Errorf("Names() = %v, the API knows %v", got, api)
	}
	for _, n := range api {
		if _, err := Lookup(n); err != nil {
			t.Error(err)
		}
	}
	_, err := Lookup("Okta")
	if err == nil || !strings.Contains(err.Error(), `"Okta"`) || !strings.Contains(err.Error(), "GitHub, GitLab, Google, Microsoft, Sentry") {
		t.Errorf("Lookup(Okta): %v", err)
	}
	if _, err := Lookup("github"); err == nil {
		t.Error("names are case-sensitive, as the CRD enum is")
	}
}

// TestEveryRowIsUsable checks what the controller relies on for every row.
func TestEveryRowIsUsable(t *testing.T) {
	rfcCodes := []string{"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
		"unsupported_grant_type", "invalid_scope", "access_denied", "expired_token", "authorization_pending", "slow_down"}
	for _, name := range Names() {
		p, _ := Lookup(name)
		u, err := url.Parse(p.DefaultBaseURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || strings.HasSuffix(p.DefaultBaseURL, "/") {
			t.Errorf("%s: DefaultBaseURL %q is not an https base URL without trailing slash", name, p.DefaultBaseURL)
		}
		for _, path := range []string{p.DevicePath, p.TokenPath} {
			if !strings.HasPrefix(path, "/") {
				t.Errorf("%s: path %q does not start with /", name, path)
			}
		}
		if p.RevocationPath != "" && !strings.HasPrefix(p.RevocationPath, "/") {
			t.Errorf("%s: revocation path %q does not start with /", name, p.RevocationPath)
		}
		switch p.AuthStyle {
		case oauth.AuthBasic, oauth.AuthPost:
		default:
			t.Errorf("%s: AuthStyle %q: a preset names how a secret is sent, when there is one", name, p.AuthStyle)
		}
		for from, to := range p.Quirks.ErrorCodes {
			if !slices.Contains(rfcCodes, to) || slices.Contains(rfcCodes, from) {
				t.Errorf("%s: ErrorCodes maps %q to %q; it must map a provider's own code to an RFC 6749/8628 code", name, from, to)
			}
		}
		if p.Quirks.PollMargin < 0 || p.Quirks.PollMargin > 5*time.Second {
			t.Errorf("%s: PollMargin %s", name, p.Quirks.PollMargin)
		}
	}
}

func TestEndpoints(t *testing.T) {
	tests := []struct {
		preset, base                        string
		device, token, revocation, userinfo string
	}{
		{"Sentry", "", "https://sentry.io/oauth/device/code/", "https://sentry.io/oauth/token/", "", ""},
		{"Sentry", "https://sentry.example.com/", "https://sentry.example.com/oauth/device/code/", "https://sentry.example.com/oauth/token/", "", ""},
		{"GitHub", "", "https://github.com/login/device/code", "https://github.com/login/oauth/access_token", "", "https://api.github.com/user"},
		{"GitHub", "https://ghes.example.com", "https://ghes.example.com/login/device/code", "https://ghes.example.com/login/oauth/access_token", "",
			"https://ghes.example.com/api/v3/user"},
		{"Google", "", "https://oauth2.googleapis.com/device/code", "https://oauth2.googleapis.com/token", "https://oauth2.googleapis.com/revoke", ""},
		{"Microsoft", "", "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode", "https://login.microsoftonline.com/common/oauth2/v2.0/token", "", ""},
		{"Microsoft", "https://login.microsoftonline.com/contoso.onmicrosoft.com", "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/devicecode",
			"https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token", "", ""},
		{"GitLab", "", "https://gitlab.com/oauth/authorize_device", "https://gitlab.com/oauth/token", "https://gitlab.com/oauth/revoke", ""},
		{"GitLab", "https://git.example.com/gitlab//", "https://git.example.com/gitlab/oauth/authorize_device", "https://git.example.com/gitlab/oauth/token",
			"https://git.example.com/gitlab/oauth/revoke", ""},
	}
	for _, tc := range tests {
		p, err := Lookup(tc.preset)
		if err != nil {
			t.Fatal(err)
		}
		e := p.Endpoints(tc.base)
		if e.DeviceAuthorizationURL != tc.device || e.TokenURL != tc.token || e.RevocationURL != tc.revocation || e.UserinfoURL != tc.userinfo {
			t.Errorf("%s under %q: got %+v", tc.preset, tc.base, e)
		}
		if _, idTokens := wantIssuer[tc.preset]; !idTokens && (e.Issuer != "" || e.JWKSURL != "") {
			t.Errorf("%s: only discovery may set the issuer and JWKS: %+v", tc.preset, e)
		}
	}
}

// wantIssuer lists the presets that verify ID tokens without discovery.
var wantIssuer = map[string]bool{"Google": true, "Microsoft": true}

func TestBaseURL(t *testing.T) {
	p, _ := Lookup("GitLab")
	if got := p.BaseURL(""); got != "https://gitlab.com" {
		t.Errorf("BaseURL(\"\") = %q", got)
	}
	if got := p.BaseURL("https://git.example.com/"); got != "https://git.example.com" {
		t.Errorf("BaseURL(self-managed) = %q", got)
	}
}

// TestQuirksPerProvider pins the switches each provider's facts call for.
func TestQuirksPerProvider(t *testing.T) {
	sentry, _ := Lookup("Sentry")
	if sentry.Quirks.PollMargin <= 0 || sentry.Discovery ||
		!strings.HasSuffix(sentry.DevicePath, "/") || !strings.HasSuffix(sentry.TokenPath, "/") || sentry.AuthStyle == oauth.AuthBasic {
		t.Errorf("Sentry: %+v", sentry)
	}
	github, _ := Lookup("GitHub")
	if !github.Quirks.CommaSeparatedScope || github.Quirks.ErrorCodes["bad_refresh_token"] != "invalid_grant" || github.Discovery {
		t.Errorf("GitHub: %+v", github)
	}
	google, _ := Lookup("Google")
	if !google.ClientSecretRequired || google.AuthStyle != oauth.AuthPost {
		t.Errorf("Google: %+v", google)
	}
	microsoft, _ := Lookup("Microsoft")
	if microsoft.Quirks.ErrorCodes["authorization_declined"] != "access_denied" || microsoft.ClientSecretRequired {
		t.Errorf("Microsoft: %+v", microsoft)
	}
	gitlab, _ := Lookup("GitLab")
	if !gitlab.Discovery || gitlab.ClientSecretRequired {
		t.Errorf("GitLab: %+v", gitlab)
	}
}
