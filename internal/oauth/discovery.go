package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
)

// providerMetadata is the part of an OIDC discovery document or RFC 8414
// authorization server metadata that the operator uses.
type providerMetadata struct {
	Issuer                      string `json:"issuer"`
	TokenEndpoint               string `json:"token_endpoint"`
	DeviceAuthorizationEndpoint string `json:"device_authorization_endpoint"`
	RevocationEndpoint          string `json:"revocation_endpoint"`
	UserinfoEndpoint            string `json:"userinfo_endpoint"`
	JWKSURI                     string `json:"jwks_uri"`
}

// Discover resolves endpoints from an issuer: OIDC discovery first, then
// RFC 8414 authorization server metadata when the OIDC document is missing
// or unusable. An issuer mismatch is reported, never worked around: it means
// the URL points at a different provider than configured. Errors are
// *DiscoveryError; when a retry might help it unwraps to *TransientError.
//
// Only the OIDC path sets Endpoints.Issuer, since ID token verification in
// Subject needs an OIDC issuer.
func Discover(ctx context.Context, hc *http.Client, issuer string) (Endpoints, error) {
	if hc == nil {
		hc = defaultHTTP()
	}
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return Endpoints{}, &DiscoveryError{Reason: fmt.Sprintf("issuer %q must be an http(s) URL without query or fragment", truncate(issuer, maxDescriptionLen))}
	}

	oidcURL := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	var rec responseRecord
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, libraryClient(hc, &rec)), issuer)
	if err == nil {
		var m providerMetadata
		if err := provider.Claims(&m); err != nil {
			return Endpoints{}, &DiscoveryError{Reason: "discovery document at " + oidcURL + " has malformed fields"}
		}
		return m.endpoints(oidcURL, issuer)
	}
	var mismatch *oidc.IssuerMismatchError
	if errors.As(err, &mismatch) {
		return Endpoints{}, &DiscoveryError{Reason: mismatchReason(oidcURL, mismatch.Discovered, issuer)}
	}
	oidcReason, oidcTransient := describeDiscoveryFailure(ctx, err, &rec)

	asURL := rfc8414URL(u)
	m, asReason, asTransient := fetchServerMetadata(ctx, hc, asURL)
	if asReason == "" {
		// RFC 8414 section 3.3: the issuer must be identical.
		if m.Issuer != issuer {
			return Endpoints{}, &DiscoveryError{Reason: mismatchReason(asURL, m.Issuer, issuer)}
		}
		return m.endpoints(asURL, "")
	}
	de := &DiscoveryError{Reason: oidcURL + ": " + oidcReason + "; " + asURL + ": " + asReason}
	de.transient = oidcTransient
	if de.transient == nil {
		de.transient = asTransient
	}
	return Endpoints{}, de
}

// endpoints validates the metadata; issuer is "" for non-OIDC metadata.
func (m *providerMetadata) endpoints(docURL, issuer string) (Endpoints, error) {
	for _, f := range []struct{ name, value string }{
		{"device_authorization_endpoint", m.DeviceAuthorizationEndpoint},
		{"token_endpoint", m.TokenEndpoint},
	} {
		if f.value == "" {
			return Endpoints{}, &DiscoveryError{Reason: "no " + f.name + " in discovery document at " + docURL}
		}
	}
	for _, f := range []struct{ name, value string }{
		{"device_authorization_endpoint", m.DeviceAuthorizationEndpoint},
		{"token_endpoint", m.TokenEndpoint},
		{"revocation_endpoint", m.RevocationEndpoint},
		{"userinfo_endpoint", m.UserinfoEndpoint},
		{"jwks_uri", m.JWKSURI},
	} {
		if f.value != "" && !isWebURL(f.value) {
			return Endpoints{}, &DiscoveryError{Reason: f.name + " in discovery document at " + docURL + " is not an http(s) URL"}
		}
	}
	return Endpoints{
		Issuer:                 issuer,
		DeviceAuthorizationURL: m.DeviceAuthorizationEndpoint,
		TokenURL:               m.TokenEndpoint,
		RevocationURL:          m.RevocationEndpoint,
		UserinfoURL:            m.UserinfoEndpoint,
		JWKSURL:                m.JWKSURI,
	}, nil
}

func mismatchReason(docURL, discovered, configured string) string {
	return fmt.Sprintf("%s names issuer %q but the configured issuer is %q; they must match exactly (check scheme, path and trailing slash)",
		docURL, truncate(discovered, maxDescriptionLen), configured)
}

// rfc8414URL inserts the well-known segment between host and path (RFC 8414
// section 3): https://h/p becomes https://h/.well-known/oauth-authorization-server/p.
func rfc8414URL(issuer *url.URL) string {
	u := *issuer
	u.Path = "/.well-known/oauth-authorization-server" + strings.TrimSuffix(issuer.Path, "/")
	u.RawPath = ""
	return u.String()
}

// describeDiscoveryFailure explains why go-oidc failed from the response it
// saw, because its errors quote whole bodies and carry no status code.
func describeDiscoveryFailure(ctx context.Context, err error, rec *responseRecord) (string, *TransientError) {
	var ue *url.Error
	if errors.As(err, &ue) || !rec.seen {
		return describeTyped(transportError(ctx, err))
	}
	if rec.status != http.StatusOK {
		return describeTyped(statusError(rec.status, rec.header))
	}
	return notJSONReason(rec.header), nil
}

// fetchServerMetadata GETs RFC 8414 metadata; reason is "" on success.
func fetchServerMetadata(ctx context.Context, hc *http.Client, docURL string) (*providerMetadata, string, *TransientError) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, docURL, http.NoBody)
	if err != nil {
		return nil, "not a valid URL", nil
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := doRequest(ctx, hc, req)
	if err != nil {
		reason, te := describeTyped(err)
		return nil, reason, te
	}
	if resp.status != http.StatusOK {
		reason, te := describeTyped(statusError(resp.status, resp.header))
		return nil, reason, te
	}
	var m providerMetadata
	if err := json.Unmarshal(resp.body, &m); err != nil {
		return nil, notJSONReason(resp.header), nil
	}
	return &m, "", nil
}

// describeTyped turns one of our typed errors into a short phrase for a
// DiscoveryError, keeping the *TransientError when there is one.
func describeTyped(err error) (string, *TransientError) {
	var te *TransientError
	var pe *ProtocolError
	var oe *Error
	switch {
	case errors.As(err, &te):
		if te.StatusCode != 0 && te.Reason != fmt.Sprintf("HTTP %d", te.StatusCode) {
			return fmt.Sprintf("%s (HTTP %d)", te.Reason, te.StatusCode), te
		}
		return te.Reason, te
	case errors.As(err, &pe):
		return pe.Reason, nil
	case errors.As(err, &oe):
		return fmt.Sprintf("HTTP %d", oe.StatusCode), nil
	default:
		return "request failed", nil
	}
}

func notJSONReason(h http.Header) string {
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	if label := safeToken(mt); label != "" {
		return "response is not a JSON metadata document (" + label + ")"
	}
	return "response is not a JSON metadata document"
}
