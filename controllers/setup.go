// Package controllers holds the operator's reconcilers: DeviceLogin, which runs the device
// authorization grant and keeps the token Secret, and the provider reconciler that serves both
// OAuthProvider and ClusterOAuthProvider.
package controllers

import (
	"context"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/eventsink"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
)

// DefaultMaxConcurrentPolls is how many due polls run out of the work queue at once by default:
// each is one provider request. The writes that store the tokens after an approval are bounded
// by MaxConcurrentReconciles, as the work queue's are.
const DefaultMaxConcurrentPolls = 64

// providerRefIndex indexes DeviceLogins by "<kind>/<name>" of the provider they use.
const providerRefIndex = "spec.providerRef"

// Options configure the controllers.
type Options struct {
	// ClusterResourceNamespace holds ClusterOAuthProviders' client secrets.
	ClusterResourceNamespace string
	// Flow talks to providers.
	Flow oauth.DeviceFlow
	// HTTPClient is used for discovery.
	HTTPClient *http.Client
	// NamespacedFlow and NamespacedHTTPClient serve namespaced OAuthProviders, which tenants
	// write: unless AllowPrivateNamespacedProviders, their HTTP client refuses internal addresses.
	// nil means Flow and HTTPClient.
	NamespacedFlow       oauth.DeviceFlow
	NamespacedHTTPClient *http.Client
	// AllowPrivateNamespacedProviders lets namespaced OAuthProviders use http and internal
	// addresses (--allow-private-namespaced-providers).
	AllowPrivateNamespacedProviders bool
	// Clock is the time source; real unless a test sets a fake one.
	Clock clock.PassiveClock
	// MaxConcurrentReconciles of the DeviceLogin controller.
	MaxConcurrentReconciles int
	// MaxConcurrentPolls bounds the due polls that run out of the work queue at once (duePolls);
	// 0 means DefaultMaxConcurrentPolls.
	MaxConcurrentPolls int
	// DiscoveryInterval is how often providers' discovery documents are fetched again (1h).
	DiscoveryInterval time.Duration
}

// SetupWithManager registers the three controllers and the index they share.
func SetupWithManager(mgr ctrl.Manager, o Options) error {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.DiscoveryInterval == 0 {
		o.DiscoveryInterval = time.Hour
	}
	if o.MaxConcurrentReconciles == 0 {
		o.MaxConcurrentReconciles = 1
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &authv1alpha1.DeviceLogin{}, providerRefIndex,
		func(obj client.Object) []string {
			return []string{providerRefKey(obj.(*authv1alpha1.DeviceLogin))}
		}); err != nil {
		return err
	}

	for _, kind := range []struct {
		name string
		new  func() authv1alpha1.ProviderObject
	}{
		{"oauthprovider", func() authv1alpha1.ProviderObject { return &authv1alpha1.OAuthProvider{} }},
		{"clusteroauthprovider", func() authv1alpha1.ProviderObject { return &authv1alpha1.ClusterOAuthProvider{} }},
	} {
		pr := &ProviderReconciler{
			Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), HTTP: o.HTTPClient, Clock: o.Clock,
			NamespacedHTTP: o.NamespacedHTTPClient, AllowPrivateNamespacedProviders: o.AllowPrivateNamespacedProviders,
			ClusterResourceNamespace: o.ClusterResourceNamespace, DiscoveryInterval: o.DiscoveryInterval,
			Discover: oauth.Discover, NewObject: kind.new,
		}
		if err := ctrl.NewControllerManagedBy(mgr).Named(kind.name).
			For(kind.new(), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
			Complete(pr); err != nil {
			return err
		}
	}

	recorder, err := eventsink.ForManager(mgr, "devicelogin-controller")
	if err != nil {
		return err
	}
	r := &DeviceLoginReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(), Flow: o.Flow, NamespacedFlow: o.NamespacedFlow,
		Clock: o.Clock, Recorder: recorder,
		ClusterResourceNamespace: o.ClusterResourceNamespace,
	}
	if o.MaxConcurrentPolls == 0 {
		o.MaxConcurrentPolls = DefaultMaxConcurrentPolls
	}
	r.duePolls = newDuePolls(r.Reconcile, o.Clock,
		mgr.GetLogger().WithValues("controller", "devicelogin", "controllerGroup", authv1alpha1.GroupVersion.Group,
			"controllerKind", "DeviceLogin", "trigger", "poll"), o.MaxConcurrentPolls, o.MaxConcurrentReconciles)
	if err := mgr.Add(manager.RunnableFunc(r.duePolls.Drain)); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).Named("devicelogin").
		For(&authv1alpha1.DeviceLogin{}, builder.WithPredicates(loginEchoes{expect: &r.expect}, predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, deletionStarted{}))).
		Owns(&corev1.Secret{}, builder.WithPredicates(notOwnWrite{expect: &r.expect})).
		Watches(&authv1alpha1.OAuthProvider{}, handler.EnqueueRequestsFromMapFunc(r.loginsForProvider(authv1alpha1.OAuthProviderKind))).
		Watches(&authv1alpha1.ClusterOAuthProvider{}, handler.EnqueueRequestsFromMapFunc(r.loginsForProvider(authv1alpha1.ClusterOAuthProviderKind))).
		WatchesRawSource(r.duePolls).
		WithOptions(controller.Options{MaxConcurrentReconciles: o.MaxConcurrentReconciles}).
		Complete(r)
}

// providerRefKey is the index value of a DeviceLogin.
func providerRefKey(dl *authv1alpha1.DeviceLogin) string {
	kind := dl.Spec.ProviderRef.Kind
	if kind == "" {
		kind = authv1alpha1.OAuthProviderKind
	}
	return string(kind) + "/" + dl.Spec.ProviderRef.Name
}

// loginsForProvider maps a provider to the DeviceLogins that use it, so that they move on as soon
// as it becomes Ready (or stops being Ready).
func (r *DeviceLoginReconciler) loginsForProvider(kind authv1alpha1.ProviderKind) handler.MapFunc {
	return func(ctx context.Context, obj client.Object) []reconcile.Request {
		var list authv1alpha1.DeviceLoginList
		opts := []client.ListOption{client.MatchingFields{providerRefIndex: string(kind) + "/" + obj.GetName()}}
		if kind == authv1alpha1.OAuthProviderKind {
			opts = append(opts, client.InNamespace(obj.GetNamespace()))
		}
		if err := r.List(ctx, &list, opts...); err != nil {
			return nil
		}
		reqs := make([]reconcile.Request, 0, len(list.Items))
		for _, dl := range list.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: dl.Namespace, Name: dl.Name}})
		}
		return reqs
	}
}

// deletionStarted lets through the update that sets deletionTimestamp, so that the finalizer runs
// even if the generation did not change.
type deletionStarted struct{ predicate.Funcs }

// Update reports whether deletion has just started.
func (deletionStarted) Update(e event.UpdateEvent) bool {
	return e.ObjectOld.GetDeletionTimestamp() == nil && e.ObjectNew.GetDeletionTimestamp() != nil
}

// notOwnWrite drops the watch events of the DeviceLogin controller's own Secret writes (a created
// state Secret, a stored token): the reconcile that wrote already acted on them. Every other
// event passes, someone else's edit or deletion of those Secrets included.
type notOwnWrite struct {
	predicate.Funcs
	expect *writeExpectations
}

func (p notOwnWrite) Create(e event.CreateEvent) bool { return !p.echo(e.Object) }
func (p notOwnWrite) Update(e event.UpdateEvent) bool { return !p.echo(e.ObjectNew) }
func (p notOwnWrite) Delete(e event.DeleteEvent) bool {
	p.expect.deleted(secretKey(client.ObjectKeyFromObject(e.Object)), e.Object.GetResourceVersion())
	return true
}

func (p notOwnWrite) echo(obj client.Object) bool {
	return p.expect.echoed(secretKey(client.ObjectKeyFromObject(obj)), obj.GetResourceVersion())
}

// loginEchoes lets every DeviceLogin event through, after noting in writeExpectations the ones
// that show the controller's own writes (status), so that their copies are not kept longer than
// the cache needs to catch up, and deletions, so that a copy never stands in for a deleted
// DeviceLogin. It must come before the predicates that filter.
type loginEchoes struct {
	predicate.Funcs
	expect *writeExpectations
}

func (p loginEchoes) Update(e event.UpdateEvent) bool {
	p.expect.echoed(loginKey(client.ObjectKeyFromObject(e.ObjectNew)), e.ObjectNew.GetResourceVersion())
	return true
}

func (p loginEchoes) Delete(e event.DeleteEvent) bool {
	p.expect.deleted(loginKey(client.ObjectKeyFromObject(e.Object)), e.Object.GetResourceVersion())
	return true
}
