package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
)

// Conditions and reasons of a provider. Ready says whether DeviceLogins may use the endpoints in
// status; Discovered says how the last attempt to read the discovery document went (absent when
// the provider is not discovered).
const (
	ConditionDiscovered = "Discovered"

	ReasonEndpointsResolved    = "EndpointsResolved"
	ReasonDiscoverySucceeded   = "DiscoverySucceeded"
	ReasonDiscoveryFailed      = "DiscoveryFailed"
	ReasonInsecureEndpoint     = "InsecureEndpoint"
	ReasonPrivateEndpoint      = "PrivateEndpoint"
	ReasonInvalidEndpoint      = "InvalidEndpoint"
	ReasonClientSecretNotFound = "ClientSecretNotFound"
	ReasonClientSecretRefused  = "ClientSecretRefused"
)

// clientSecretRecheck is how often a provider whose client secret is missing looks again: the
// Secret is not watched (the operator caches only its own Secrets).
const clientSecretRecheck = time.Minute

// ProviderReconciler resolves an OAuthProvider's or ClusterOAuthProvider's endpoints (preset,
// discovery, explicit fields) into its status, so that DeviceLogins never run discovery
// themselves, and checks that its client secret is readable.
type ProviderReconciler struct {
	client.Client
	// APIReader reads client Secrets, which the manager does not cache.
	APIReader client.Reader
	// HTTP fetches discovery documents of ClusterOAuthProviders (and of OAuthProviders when
	// AllowPrivateNamespacedProviders is set, or NamespacedHTTP is nil).
	HTTP *http.Client
	// NamespacedHTTP fetches discovery documents of namespaced OAuthProviders: a client that
	// refuses loopback, private, link-local, CGNAT and ULA addresses at dial time.
	NamespacedHTTP *http.Client
	// AllowPrivateNamespacedProviders is the manager flag --allow-private-namespaced-providers:
	// namespaced OAuthProviders may then use allowInsecureHTTP and private addresses.
	AllowPrivateNamespacedProviders bool
	Clock                           clock.PassiveClock
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

// Reconcile resolves the provider and records the outcome in its Ready and Discovered conditions.
func (r *ProviderReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := r.NewObject()
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := obj.DeepCopyObject().(authv1alpha1.ProviderObject)
	now := r.Clock.Now()

	res := r.resolve(ctx, obj)
	out := r.serve(obj, res, now)
	if out.err == nil {
		if _, err := readClientSecret(ctx, r.APIReader, obj, r.ClusterResourceNamespace); err != nil {
			var managed *ManagedSecretError
			switch {
			case errors.As(err, &managed):
				out = servedEndpoints{reason: ReasonClientSecretRefused, err: err}
			case IsClientSecretMissing(err):
				out = servedEndpoints{reason: ReasonClientSecretNotFound, err: err}
			default:
				// An API error says nothing about the provider: leave the status as it is and
				// let the rate limiter retry.
				return ctrl.Result{}, err
			}
		}
	}
	r.writeStatus(obj, res, out, now)
	if !equality.Semantic.DeepEqual(before.ProviderStatus(), obj.ProviderStatus()) {
		if err := r.Status().Patch(ctx, obj, client.MergeFrom(before)); err != nil {
			return ctrl.Result{}, err
		}
	}

	switch {
	case out.err == nil && res.discoveryErr != nil:
		log.FromContext(ctx).Info("Discovery failed; retrying", "error", res.discoveryErr.Error(), "servingEndpointsFrom", out.source())
		return ctrl.Result{RequeueAfter: discoveryRetryAfter(before, now, out.stale)}, nil
	case out.err == nil && res.discovered:
		return ctrl.Result{RequeueAfter: r.DiscoveryInterval}, nil
	case out.err == nil:
		return ctrl.Result{}, nil
	case out.reason == ReasonClientSecretNotFound:
		return ctrl.Result{RequeueAfter: clientSecretRecheck}, nil
	case out.retry:
		// Worth retrying: the provider may come back. The rate limiter backs off.
		return ctrl.Result{}, out.err
	default:
		// The spec (or what the operator refuses) is wrong; a spec change brings a new reconcile.
		return ctrl.Result{}, reconcile.TerminalError(out.err)
	}
}

// writeStatus records the outcome: the Discovered condition when discovery was tried, Ready, and
// the endpoints in use when they are fresh.
func (r *ProviderReconciler) writeStatus(obj authv1alpha1.ProviderObject, res resolution, out servedEndpoints, now time.Time) {
	status := obj.ProviderStatus()
	gen := obj.GetGeneration()
	// Transition times come from the reconciler's clock, which the retry delays are measured on.
	at := metav1.NewTime(now)
	switch {
	case !res.discoveryTried:
		meta.RemoveStatusCondition(&status.Conditions, ConditionDiscovered)
	case res.discoveryErr == nil:
		meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: ConditionDiscovered, Status: metav1.ConditionTrue,
			Reason: ReasonDiscoverySucceeded, Message: "The discovery document was read", ObservedGeneration: gen, LastTransitionTime: at})
	default:
		msg := res.discoveryErr.Error()
		if out.stale {
			msg += fmt.Sprintf("; serving the endpoints discovered at %s until %s, retrying meanwhile",
				status.LastDiscoveryTime.UTC().Format(time.RFC3339), status.LastDiscoveryTime.Add(DiscoveryStaleAfter).UTC().Format(time.RFC3339))
		}
		meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: ConditionDiscovered, Status: metav1.ConditionFalse,
			Reason: ReasonDiscoveryFailed, Message: msg, ObservedGeneration: gen, LastTransitionTime: at})
	}

	ready := metav1.Condition{Type: ConditionReady, ObservedGeneration: gen, LastTransitionTime: at}
	if out.err != nil {
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, out.reason, out.err.Error()
	} else {
		e := out.endpoints
		ready.Status, ready.Reason = metav1.ConditionTrue, ReasonEndpointsResolved
		ready.Message = fmt.Sprintf("Device authorization at %s, tokens at %s", displayURL(e.DeviceAuthorizationURL), displayURL(e.TokenURL))
		if !out.stale {
			status.Issuer = e.Issuer
			status.DeviceAuthorizationURL = e.DeviceAuthorizationURL
			status.TokenURL = e.TokenURL
			status.RevocationURL = e.RevocationURL
			status.UserinfoURL = e.UserinfoURL
			status.JWKSURL = e.JWKSURL
			status.LastDiscoveryTime = nil
			if res.discovered {
				t := metav1.NewTime(now)
				status.LastDiscoveryTime = &t
			}
		}
	}
	meta.SetStatusCondition(&status.Conditions, ready)
	status.ObservedGeneration = gen
}
