package controllers

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
	"github.com/devicelogin-dev/devicelogin-operator/internal/secrettemplate"
)

// Backoff of transient provider failures: doubling from the base to the cap, with jitter.
const (
	backoffBase = 5 * time.Second
	backoffCap  = 5 * time.Minute
	// minRequeue keeps a reconcile that finds something due right now from spinning.
	minRequeue = time.Second
)

// DeviceLoginReconciler runs the device authorization grant for DeviceLogins: it asks for a user
// code, polls for the approval when the poll is due, writes the token Secret and refreshes the
// token before it expires. The schedule that must survive a restart lives in status as absolute
// times; the next poll of a pending code is kept in memory, and a restarted controller waits one
// full interval before it polls.
type DeviceLoginReconciler struct {
	client.Client
	// APIReader reads what the cache may not hold yet, and client Secrets, which it never holds.
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Flow      oauth.DeviceFlow
	// NamespacedFlow serves namespaced OAuthProviders; nil means Flow.
	NamespacedFlow oauth.DeviceFlow
	Clock          clock.PassiveClock
	Recorder       events.EventRecorder
	// ClusterResourceNamespace holds ClusterOAuthProviders' client secrets.
	ClusterResourceNamespace string

	// unsaved keeps, per DeviceLogin UID, state that the provider handed out (a rotated refresh
	// token) but that could not be written to the API server. It is written before the next
	// request to the provider, so that a refused write never loses a refresh token.
	unsaved sync.Map
	// slowDowns counts, per DeviceLogin (namespace/name), the slow_down answers in a row to the
	// pending code.
	slowDowns sync.Map
	// polls holds, per DeviceLogin (namespace/name), the pollSlot of its pending code.
	polls sync.Map
	// expect tells reconciles whether the cache has seen this controller's own last writes.
	expect writeExpectations
	// secrets holds client secrets for clientSecretTTL.
	secrets clientSecretCache
	// duePolls runs due polls out of the work queue (see duePolls); nil: polls wait in the queue
	// like any other reconcile (unit tests drive Reconcile by hand).
	duePolls *duePolls
	// deleted holds, per DeviceLogin (client.ObjectKey), the UID of one whose deletion this
	// controller finished (revoked, finalizers removed), so that a reconcile from a cache that still
	// shows the finalizer neither revokes nor announces it twice.
	deleted sync.Map
	// locks keeps a due poll and a queued reconcile of the same DeviceLogin apart.
	locks loginLocks
}

// +kubebuilder:rbac:groups=auth.devicelogin.dev,resources=devicelogins,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=auth.devicelogin.dev,resources=devicelogins/status,verbs=patch
// +kubebuilder:rbac:groups=auth.devicelogin.dev,resources=devicelogins/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// loginScope is the data one reconcile shares between its steps: what it read and resolved, never
// what a step decided (steps return that, see outcome). Each field names the step that sets it.
type loginScope struct {
	// dl is the DeviceLogin being reconciled; steps change its status (Reconcile).
	dl *authv1alpha1.DeviceLogin
	// before is the DeviceLogin as last written, the base of the status patch (Reconcile,
	// patchStatus).
	before *authv1alpha1.DeviceLogin
	// prevReady is the Ready condition as the reconcile found it (Reconcile).
	prevReady *metav1.Condition
	// now is the time the reconcile started; schedules count from it (Reconcile).
	now time.Time

	// templates are the parsed secretTemplate.data templates (reconcileSpec); nil when they do not
	// parse, and then the token Secret is left as last written.
	templates map[string]*secrettemplate.Template
	// stateSecret is the state Secret as last read or written, nil while there is none
	// (reconcileState, persist).
	stateSecret *corev1.Secret
	// state is the device code and tokens (reconcileState); steps change it and write it with
	// persist.
	state *loginState

	// provider is the referenced provider when it is usable, else nil (reconcileProvider).
	provider *resolvedProvider
	// grant is the grantFingerprint of the spec with the provider's client ID; "" when the
	// provider is missing or does not allow the namespace (reconcileProvider).
	grant string
	// binding is the providerBinding of the provider instance; "" when it is missing
	// (reconcileProvider).
	binding string
}

// pending says whether a user code waits for approval: its device code is stored and the user
// code is in status.
func (s *loginScope) pending() bool { return s.state.DeviceCode != "" && s.dl.Status.UserCode != "" }

// Reconcile brings one DeviceLogin a step further.
func (r *DeviceLoginReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	defer r.locks.lock(req.NamespacedName)()
	// The DeviceLogin and its state Secret come from the cache, so that waiting codes and quiet
	// tokens cost the API server nothing; right after this controller's own write, before the
	// cache has seen it, they are read from the API server (see writeExpectations).
	dl := &authv1alpha1.DeviceLogin{}
	if err := r.read(ctx, loginKey(req.NamespacedName), req.NamespacedName, dl); err != nil {
		if apierrors.IsNotFound(err) {
			r.forgetLogin(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !dl.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, dl)
	}
	if err := r.reconcileFinalizer(ctx, dl); err != nil {
		return ctrl.Result{}, err
	}

	s := &loginScope{dl: dl, before: dl.DeepCopy(), now: r.Clock.Now()}
	if c := meta.FindStatusCondition(dl.Status.Conditions, ConditionReady); c != nil {
		s.prevReady = c.DeepCopy()
	}
	defer func() {
		if err := r.patchStatus(ctx, s); err != nil {
			retErr = kerrors.NewAggregate([]error{retErr, err})
		}
	}()

	f := r.runSteps(ctx, s)
	if errors.Is(f.err, errStateMoved) {
		// Another writer stored newer tokens: nothing this reconcile decided stands.
		dl.Status = *s.before.Status.DeepCopy()
		return ctrl.Result{RequeueAfter: minRequeue}, nil
	}
	// Ready is computed whatever happened above, so that it never keeps saying what stopped
	// being true (a token Secret that could not be written, say).
	r.reconcileReady(s, &f)
	if f.err != nil {
		return ctrl.Result{}, f.err
	}
	dl.Status.ObservedGeneration = dl.Generation
	if f.wake.IsZero() {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{RequeueAfter: max(f.wake.Sub(s.now), minRequeue)}, nil
}

// runSteps runs the sub-reconcilers in order until one stops or fails. Each returns what it
// decided (an outcome); the few decisions that a later step acts on are handed to it here, by
// name, so that nothing passes between steps through the scope.
func (r *DeviceLoginReconciler) runSteps(ctx context.Context, s *loginScope) (f findings) {
	if f.add(r.reconcileSpec(ctx, s)) {
		return f
	}
	if f.add(r.reconcileState(ctx, s)) {
		return f
	}
	p, err := r.reconcileProvider(ctx, s)
	if f.add(p.outcome, err) {
		return f
	}
	if p.forbiddenBy != nil {
		f.add(r.reconcileForbidden(ctx, s, p.forbiddenBy, p.block))
		return f
	}
	t, err := r.reconcileTriggers(ctx, s)
	if f.add(outcome{block: t.halt}, err) {
		return f
	}
	if f.add(r.reconcileRefresh(ctx, s, t)) {
		return f
	}
	if f.add(r.reconcileFlow(ctx, s, t)) {
		return f
	}
	f.add(r.reconcileTokenSecret(ctx, s))
	return f
}

// patchStatus writes the status when it changed since the last write. It finishes even when the
// manager is shutting down, so that what the provider said is not lost with the reconcile's context.
func (r *DeviceLoginReconciler) patchStatus(ctx context.Context, s *loginScope) error {
	if equality.Semantic.DeepEqual(s.before.Status, s.dl.Status) {
		return nil
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := r.Status().Patch(wctx, s.dl, client.MergeFrom(s.before)); err != nil {
		return client.IgnoreNotFound(err)
	}
	r.expect.wrote(loginKey(client.ObjectKeyFromObject(s.dl)), s.dl, r.Clock.Now())
	s.before = s.dl.DeepCopy()
	return nil
}

// read gets an object from the cache or, while the cache has not yet seen this controller's last
// write of it, from the copy of that write (writeExpectations).
func (r *DeviceLoginReconciler) read(ctx context.Context, expectKey string, key client.ObjectKey, obj client.Object) error {
	err := r.Get(ctx, key, obj)
	rv := obj.GetResourceVersion()
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if err != nil {
		rv = ""
	}
	fresh, own := r.expect.fresh(expectKey, rv, r.Clock.Now())
	if fresh {
		return err
	}
	if own != nil && copyInto(obj, own) {
		return nil
	}
	return r.APIReader.Get(ctx, key, obj)
}

// loginKey and secretKey name objects in writeExpectations.
func loginKey(key client.ObjectKey) string  { return "DeviceLogin/" + key.String() }
func secretKey(key client.ObjectKey) string { return "Secret/" + key.String() }

// forgetLogin drops what this controller remembers of a DeviceLogin that is gone.
func (r *DeviceLoginReconciler) forgetLogin(key client.ObjectKey) {
	r.expect.forget(loginKey(key))
	r.deleted.Delete(key)
	r.polls.Delete(key.String())
	r.slowDowns.Delete(key.String())
	if r.duePolls != nil {
		r.duePolls.forget(key)
	}
}

// reconcileState loads the controller's own Secret (device code, tokens), preferring state that
// an earlier reconcile got from the provider but could not write, and writes that first.
//
// A state Secret of that name that this DeviceLogin does not own stops the reconcile with
// SecretConflict.
func (r *DeviceLoginReconciler) reconcileState(ctx context.Context, s *loginScope) (outcome, error) {
	secret, st, err := r.loadState(ctx, s.dl)
	var conflict *conflictError
	if errors.As(err, &conflict) {
		return outcome{block: secretConflict(conflict), stop: true}, nil
	}
	if err != nil {
		return outcome{}, err
	}
	s.stateSecret, s.state = secret, st
	if v, ok := r.unsaved.Load(s.dl.UID); ok {
		s.state = v.(*loginState)
		return outcome{}, r.persist(ctx, s)
	}
	return outcome{}, nil
}

// persist writes the state Secret when it changed. When the write fails, the state is kept in
// memory and written first thing on the next reconcile. A state Secret that someone else took
// over meanwhile is a conflictError, which findings.add turns into a SecretConflict blocker.
func (r *DeviceLoginReconciler) persist(ctx context.Context, s *loginScope) error {
	secret, err := r.saveState(ctx, s.dl, s.stateSecret, s.state)
	if err != nil {
		var conflict *conflictError
		switch {
		case errors.Is(err, errStateMoved):
			// What is stored is newer than what this reconcile decided on: forget it.
			r.unsaved.Delete(s.dl.UID)
		case errors.As(err, &conflict):
			// The Secret is not ours: nothing is kept to write there next time.
		default:
			copied := *s.state
			r.unsaved.Store(s.dl.UID, &copied)
		}
		return err
	}
	r.unsaved.Delete(s.dl.UID)
	s.stateSecret = secret
	return nil
}

// backoff is the delay after the n-th consecutive transient failure: doubling from backoffBase to
// backoffCap, with up to 20% jitter either way so that many DeviceLogins do not retry in step.
func backoff(n int32) time.Duration {
	d := backoffBase
	for i := int32(1); i < n && d < backoffCap; i++ {
		d *= 2
	}
	d = min(d, backoffCap)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64())) //nolint:gosec // G404: jitter, not a secret
}

// event records an event on the DeviceLogin.
func (r *DeviceLoginReconciler) event(dl *authv1alpha1.DeviceLogin, eventType, reason, action, note string, args ...any) {
	r.Recorder.Eventf(dl, nil, eventType, reason, action, note, args...)
}

// providerName is how messages name a DeviceLogin's provider.
func providerName(dl *authv1alpha1.DeviceLogin) string {
	kind := dl.Spec.ProviderRef.Kind
	if kind == "" {
		kind = authv1alpha1.OAuthProviderKind
	}
	return string(kind) + " " + dl.Spec.ProviderRef.Name
}
