package controllers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
	"github.com/devicelogin-dev/devicelogin-operator/internal/presets"
)

// Reasons of a provider's Ready condition.
const (
	ReasonEndpointsResolved    = "EndpointsResolved"
	ReasonDiscoveryFailed      = "DiscoveryFailed"
	ReasonInsecureEndpoint     = "InsecureEndpoint"
	ReasonClientSecretNotFound = "ClientSecretNotFound"
)

// ProviderReconciler resolves an OAuthProvider's or ClusterOAuthProvider's endpoints (preset,
// discovery, explicit fields) into its status, so that DeviceLogins never run discovery
// themselves, and checks that its client secret is readable.
type ProviderReconciler struct {
	client.Client
	// APIReader reads client Secrets, which the manager does not cache.
	APIReader client.Reader
	HTTP      *http.Client
	Clock     clock.PassiveClock
	// ClusterResourceNamespace holds ClusterOAuthProviders' client secrets.
	ClusterResourceNamespace string
	// DiscoveryInterval is how often discovery documents are fetched again.
	DiscoveryInterval time.Duration
	// Discover resolves an issuer; oauth.Discover unless a test replaces it.
	Discover func(ctx context.Context, hc *http.Client, issuer string) (oauth.Endpoints, error)
	// NewObject returns an empty object of the kind this reconciler serves.
	NewObject func() authv1alpha1.ProviderObject
}

// +kubebuilder:rbac:groups=auth.devicelogin.dev,resources=oauthproviders;clusteroauthproviders,verbs=get;list;watch
// +kubebuilder:rbac:groups=auth.devicelogin.dev,resources=oauthproviders/status;clusteroauthproviders/status,verbs=patch

// Reconcile resolves the provider and records the outcome in its Ready condition.
func (r *ProviderReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := r.NewObject()
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := obj.DeepCopyObject().(authv1alpha1.ProviderObject)
	status := obj.ProviderStatus()

	endpoints, discovered, reason, err := r.resolve(ctx, obj)
	if err == nil {
		reason, err = r.checkClientSecret(ctx, obj)
	}
	now := metav1.NewTime(r.Clock.Now())
	cond := metav1.Condition{Type: ConditionReady, ObservedGeneration: obj.GetGeneration()}
	if err != nil {
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, reason, err.Error()
	} else {
		cond.Status, cond.Reason = metav1.ConditionTrue, ReasonEndpointsResolved
		cond.Message = fmt.Sprintf("Device authorization at %s, tokens at %s", endpoints.DeviceAuthorizationURL, endpoints.TokenURL)
		status.Issuer = endpoints.Issuer
		status.DeviceAuthorizationURL = endpoints.DeviceAuthorizationURL
		status.TokenURL = endpoints.TokenURL
		status.RevocationURL = endpoints.RevocationURL
		status.UserinfoURL = endpoints.UserinfoURL
		status.JWKSURL = endpoints.JWKSURL
		if discovered {
			status.LastDiscoveryTime = &now
		}
	}
	meta.SetStatusCondition(&status.Conditions, cond)
	status.ObservedGeneration = obj.GetGeneration()

	if !equality.Semantic.DeepEqual(before.ProviderStatus(), status) {
		if perr := r.Status().Patch(ctx, obj, client.MergeFrom(before)); perr != nil {
			return ctrl.Result{}, perr
		}
	}
	switch {
	case err == nil:
		if !discovered {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{RequeueAfter: r.DiscoveryInterval}, nil
	case reason == ReasonDiscoveryFailed || reason == ReasonClientSecretNotFound:
		// Worth retrying: the provider or the Secret may appear. The rate limiter backs off.
		return ctrl.Result{}, err
	default:
		// The spec itself is wrong; a spec change brings a new reconcile.
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
}

// resolve combines preset, discovery and explicit fields, explicit fields winning, and refuses
// insecure endpoints. discovered says whether a discovery document was read.
func (r *ProviderReconciler) resolve(ctx context.Context, obj authv1alpha1.ProviderObject) (e oauth.Endpoints, discovered bool, reason string, err error) {
	spec := obj.ProviderSpec()
	issuer := spec.IssuerURL
	if spec.Preset != "" {
		p, err := presets.Lookup(string(spec.Preset))
		if err != nil {
			return e, discovered, ReasonInvalidSpec, err
		}
		if p.ClientSecretRequired && spec.ClientSecretRef == nil {
			return e, discovered, ReasonInvalidSpec, fmt.Errorf("the %s preset needs the client secret: %s refuses the device flow without it; set clientSecretRef",
				spec.Preset, spec.Preset)
		}
		e = p.Endpoints(spec.IssuerURL)
		issuer = ""
		if p.Discovery {
			// The preset's base URL (the public service unless issuerURL names an instance) is its
			// issuer: discovery adds the keys that verify ID tokens, and userinfo.
			issuer = p.BaseURL(spec.IssuerURL)
		}
	}
	if issuer != "" {
		found, err := r.Discover(ctx, r.HTTP, issuer)
		switch {
		case err == nil:
			e = mergeEndpoints(found, e)
			discovered = true
		case spec.Preset == "" && (spec.DeviceAuthorizationURL == "" || spec.TokenURL == ""):
			return e, discovered, ReasonDiscoveryFailed, fmt.Errorf("discovery at %s failed: %w", issuer, err)
		default:
			// Explicit endpoints or a preset cover what discovery would have given.
			log.FromContext(ctx).V(1).Info("Discovery failed, using the configured endpoints", "issuer", issuer, "error", err.Error())
		}
	}
	e = mergeEndpoints(e, oauth.Endpoints{
		DeviceAuthorizationURL: spec.DeviceAuthorizationURL,
		TokenURL:               spec.TokenURL,
		RevocationURL:          spec.RevocationURL,
	})
	if e.DeviceAuthorizationURL == "" {
		return e, discovered, ReasonDiscoveryFailed, fmt.Errorf("the provider at %s advertises no device_authorization_endpoint; set deviceAuthorizationURL", spec.IssuerURL)
	}
	if e.TokenURL == "" {
		return e, discovered, ReasonDiscoveryFailed, fmt.Errorf("the provider at %s advertises no token_endpoint; set tokenURL", spec.IssuerURL)
	}
	for _, u := range []string{e.DeviceAuthorizationURL, e.TokenURL, e.RevocationURL, e.UserinfoURL, e.JWKSURL} {
		if u == "" {
			continue
		}
		parsed, err := url.Parse(u)
		if err != nil || parsed.Host == "" {
			return e, discovered, ReasonInvalidSpec, fmt.Errorf("endpoint %q is not an absolute URL", u)
		}
		if parsed.Scheme != "https" && !(parsed.Scheme == "http" && spec.AllowInsecureHTTP) {
			return e, discovered, ReasonInsecureEndpoint, fmt.Errorf("endpoint %s is not https; set allowInsecureHTTP: true only for a provider on a trusted local network", u)
		}
	}
	return e, discovered, "", nil
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

// checkClientSecret makes sure the client secret, when one is referenced, can be read from the
// namespace the API contract allows.
func (r *ProviderReconciler) checkClientSecret(ctx context.Context, obj authv1alpha1.ProviderObject) (string, error) {
	_, err := readClientSecret(ctx, r.APIReader, obj, r.ClusterResourceNamespace)
	if err != nil {
		return ReasonClientSecretNotFound, err
	}
	return "", nil
}

// clientSecretNamespace is where a provider's clientSecretRef points: an OAuthProvider's own
// namespace, or the cluster-resource namespace for a ClusterOAuthProvider.
func clientSecretNamespace(obj authv1alpha1.ProviderObject, clusterResourceNamespace string) string {
	if obj.GetNamespace() != "" {
		return obj.GetNamespace()
	}
	return clusterResourceNamespace
}

// readClientSecret returns the provider's client secret, or "" when it has none.
func readClientSecret(ctx context.Context, reader client.Reader, obj authv1alpha1.ProviderObject, clusterNS string) (string, error) {
	ref := obj.ProviderSpec().ClientSecretRef
	if ref == nil {
		return "", nil
	}
	ns := clientSecretNamespace(obj, clusterNS)
	var s corev1.Secret
	if err := reader.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref.Name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return "", fmt.Errorf("client secret %s/%s not found", ns, ref.Name)
		}
		return "", fmt.Errorf("reading client secret %s/%s: %w", ns, ref.Name, err)
	}
	v, ok := s.Data[ref.Key]
	if !ok || len(v) == 0 {
		return "", fmt.Errorf("client secret %s/%s has no key %q", ns, ref.Name, ref.Key)
	}
	return string(v), nil
}
