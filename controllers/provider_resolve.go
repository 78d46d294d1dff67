package controllers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
	"github.com/devicelogin-dev/devicelogin-operator/internal/presets"
)

// resolution is what resolve found out about a provider's endpoints.
type resolution struct {
	// endpoints are the endpoints to use when err is nil.
	endpoints oauth.Endpoints
	// discoveryTried says a discovery document was asked for.
	discoveryTried bool
	// discovered says the endpoints come from a discovery document read just now.
	discovered bool
	// discoveryErr says why discovery failed or its document was refused, and discoveryReason
	// is the matching Ready reason; endpoints may still be usable when the preset or explicit
	// fields cover what discovery would have given.
	discoveryErr    error
	discoveryReason string
	// reason and err say why the provider cannot be used at all. fromDiscovery says err comes
	// from discovery (the request or the document) rather than from the spec, so endpoints
	// discovered earlier may still stand in.
	reason        string
	err           error
	fromDiscovery bool
}

// resolve combines preset, discovery and explicit fields, explicit fields winning, and applies
// checkEndpoints. The spec's own endpoints and the issuer are checked before any request.
func (r *ProviderReconciler) resolve(ctx context.Context, obj authv1alpha1.ProviderObject) resolution {
	spec := obj.ProviderSpec()
	fail := func(reason string, err error) resolution { return resolution{reason: reason, err: err} }
	issuer := spec.IssuerURL
	var configured oauth.Endpoints
	if spec.Preset != "" {
		p, err := presets.Lookup(string(spec.Preset))
		if err != nil {
			return fail(ReasonInvalidSpec, err)
		}
		if p.ClientSecretRequired && spec.ClientSecretRef == nil {
			return fail(ReasonInvalidSpec, fmt.Errorf("the %s preset needs the client secret: %s refuses the device flow without it; set clientSecretRef",
				spec.Preset, spec.Preset))
		}
		configured = p.Endpoints(spec.IssuerURL)
		issuer = ""
		if p.Discovery {
			// The preset's base URL (the public service unless issuerURL names an instance) is its
			// issuer: discovery adds the keys that verify ID tokens, and userinfo.
			issuer = p.BaseURL(spec.IssuerURL)
		}
	}
	configured = mergeEndpoints(configured, oauth.Endpoints{
		DeviceAuthorizationURL: spec.DeviceAuthorizationURL,
		TokenURL:               spec.TokenURL,
		RevocationURL:          spec.RevocationURL,
	})
	if err := r.checkEndpoints(obj, configured); err != nil {
		return fail(err.reason, err)
	}
	if err := r.checkURL(obj, "issuerURL", issuer); err != nil {
		return fail(err.reason, err)
	}
	if u, err := url.Parse(issuer); err == nil && (u.RawQuery != "" || u.ForceQuery || u.Fragment != "") {
		// Checked here, not only by the CRD, so that an object older than that rule never has its
		// query repeated in a message.
		return fail(ReasonInvalidSpec, fmt.Errorf("issuerURL %s has a query or fragment; an issuer is a plain https URL", displayURL(issuer)))
	}

	res := resolution{endpoints: configured}
	if issuer != "" {
		res.discoveryTried = true
		res.discoveryReason, res.discoveryErr = r.discover(ctx, obj, issuer, configured, &res.endpoints)
		res.discovered = res.discoveryErr == nil
	}
	if configured.DeviceAuthorizationURL != "" && configured.TokenURL != "" {
		// The preset or the explicit fields cover what discovery would give: usable either way.
		return res
	}
	switch {
	case res.discoveryErr != nil:
		res.reason, res.err, res.fromDiscovery = res.discoveryReason, res.discoveryErr, true
	case issuer == "":
		res.reason, res.err = ReasonInvalidSpec, fmt.Errorf("set issuerURL, or both deviceAuthorizationURL and tokenURL")
	}
	return res
}

// discover reads the issuer's discovery document and, when the endpoints it gives (under the
// configured ones) are complete and pass checkEndpoints, stores them in out. Otherwise it returns
// the Ready reason and the error; out is left alone.
func (r *ProviderReconciler) discover(ctx context.Context, obj authv1alpha1.ProviderObject, issuer string, configured oauth.Endpoints, out *oauth.Endpoints) (string, error) {
	discover := r.Discover
	if discover == nil {
		discover = oauth.Discover
	}
	found, err := discover(ctx, r.discoveryClient(obj), issuer)
	if err != nil {
		return ReasonDiscoveryFailed, fmt.Errorf("discovery at %s failed: %w", displayURL(issuer), err)
	}
	merged := mergeEndpoints(found, configured)
	switch {
	case merged.DeviceAuthorizationURL == "":
		return ReasonDiscoveryFailed, fmt.Errorf("the provider at %s advertises no device_authorization_endpoint; set deviceAuthorizationURL", displayURL(issuer))
	case merged.TokenURL == "":
		return ReasonDiscoveryFailed, fmt.Errorf("the provider at %s advertises no token_endpoint; set tokenURL", displayURL(issuer))
	}
	if err := r.checkEndpoints(obj, merged); err != nil {
		return err.reason, fmt.Errorf("the discovery document of %s is refused: %w", displayURL(issuer), err)
	}
	*out = merged
	return "", nil
}

// discoveryClient is the HTTP client that fetches obj's discovery document: for a namespaced
// OAuthProvider without the manager flag, NamespacedHTTP, which refuses private addresses at
// dial time (names and proxies included), when it is set.
func (r *ProviderReconciler) discoveryClient(obj authv1alpha1.ProviderObject) *http.Client {
	if r.tenant(obj) && r.NamespacedHTTP != nil {
		return r.NamespacedHTTP
	}
	return r.HTTP
}

// mergeEndpoints returns base with every non-empty field of over written over it.
func mergeEndpoints(base, over oauth.Endpoints) oauth.Endpoints {
	pick := func(b, o string) string {
		if o != "" {
			return o
		}
		return b
	}
	return oauth.Endpoints{
		Issuer:                 pick(base.Issuer, over.Issuer),
		DeviceAuthorizationURL: pick(base.DeviceAuthorizationURL, over.DeviceAuthorizationURL),
		TokenURL:               pick(base.TokenURL, over.TokenURL),
		RevocationURL:          pick(base.RevocationURL, over.RevocationURL),
		UserinfoURL:            pick(base.UserinfoURL, over.UserinfoURL),
		JWKSURL:                pick(base.JWKSURL, over.JWKSURL),
	}
}
