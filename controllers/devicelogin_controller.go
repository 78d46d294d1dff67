package controllers

import (
	"context"
	"errors"
	"fmt"
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
	"sigs.k8s.io/controller-runtime/pkg/log"

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
	// locks keeps a due poll and a queued reconcile of the same DeviceLogin apart.
	locks loginLocks
}

// +kubebuilder:rbac:groups=auth.devicelogin.dev,resources=devicelogins,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=auth.devicelogin.dev,resources=devicelogins/status,verbs=patch
// +kubebuilder:rbac:groups=auth.devicelogin.dev,resources=devicelogins/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// loginScope carries what one reconcile learns from step to step.
type loginScope struct {
	dl *authv1alpha1.DeviceLogin
	// before is the DeviceLogin as last written, the base of the status patch.
	before *authv1alpha1.DeviceLogin
	// prevReady is the Ready condition as the reconcile found it.
	prevReady *metav1.Condition
	now       time.Time

	stateSecret *corev1.Secret
	state       *loginState
	templates   map[string]*secrettemplate.Template

	provider        *resolvedProvider
	providerProblem string
	forbidden       bool
	grant           string

	reauthorize bool
	refreshNow  bool
	needCode    bool
	halt        *haltInfo

	invalidSpec string
	conflict    string
	wake        time.Time
	// stepErr is the error that ended the steps early, if any (set by Reconcile).
	stepErr error
	// secretWritten says the token Secret step confirmed the Secret holds the current token.
	secretWritten bool
	// providerFailed says the provider has failed (not found, Ready=False), as opposed to not being
	// resolved yet; only a failure is worth a Warning event.
	providerFailed bool
	// binding identifies the provider instance in use (reconcileProvider).
	binding string
	// forbiddenBy is the provider that does not allow this namespace (with forbidden), kept so
	// that the grant can be revoked there.
	forbiddenBy *resolvedProvider
}

// haltInfo is a stop that lasts until the reauthorize annotation or a spec change.
type haltInfo struct{ reason, message string }

func (s *loginScope) wakeAt(t time.Time) {
	if !t.IsZero() && (s.wake.IsZero() || t.Before(s.wake)) {
		s.wake = t
	}
}

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

	steps := []func(context.Context, *loginScope) (stop bool, err error){
		r.reconcileSpec,
		r.reconcileState,
		r.reconcileProvider,
		r.reconcileForbidden,
		r.reconcileTriggers,
		r.reconcileRefresh,
		r.reconcileFlow,
		r.reconcileTokenSecret,
	}
	for _, step := range steps {
		stop, err := step(ctx, s)
		if err != nil {
			s.stepErr = err
			break
		}
		if stop {
			break
		}
	}
	if errors.Is(s.stepErr, errStateMoved) {
		// Another writer stored newer tokens: nothing this reconcile decided stands.
		dl.Status = *s.before.Status.DeepCopy()
		return ctrl.Result{RequeueAfter: minRequeue}, nil
	}
	// Ready is computed whatever happened above, so that it never keeps saying what stopped
	// being true (a token Secret that could not be written, say).
	r.reconcileReady(ctx, s)
	if s.stepErr != nil {
		return ctrl.Result{}, s.stepErr
	}
	dl.Status.ObservedGeneration = dl.Generation
	if s.wake.IsZero() {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{RequeueAfter: max(s.wake.Sub(s.now), minRequeue)}, nil
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
	r.expect.wrote(loginKey(client.ObjectKeyFromObject(s.dl)), s.dl.ResourceVersion, r.Clock.Now())
	s.before = s.dl.DeepCopy()
	return nil
}

// read gets an object from the cache, or from the API server while the cache has not yet seen
// this controller's last write of it.
func (r *DeviceLoginReconciler) read(ctx context.Context, expectKey string, key client.ObjectKey, obj client.Object) error {
	err := r.Get(ctx, key, obj)
	rv := obj.GetResourceVersion()
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if err != nil {
		rv = ""
	}
	if r.expect.fresh(expectKey, rv, r.Clock.Now()) {
		return err
	}
	return r.APIReader.Get(ctx, key, obj)
}

// loginKey and secretKey name objects in writeExpectations.
func loginKey(key client.ObjectKey) string  { return "DeviceLogin/" + key.String() }
func secretKey(key client.ObjectKey) string { return "Secret/" + key.String() }

// forgetLogin drops what this controller remembers of a DeviceLogin that is gone.
func (r *DeviceLoginReconciler) forgetLogin(key client.ObjectKey) {
	r.expect.forget(loginKey(key))
	r.polls.Delete(key.String())
	r.slowDowns.Delete(key.String())
	if r.duePolls != nil {
		r.duePolls.forget(key)
	}
}

// reconcileState loads the controller's own Secret (device code, tokens), preferring state that
// an earlier reconcile got from the provider but could not write, and writes that first.
func (r *DeviceLoginReconciler) reconcileState(ctx context.Context, s *loginScope) (bool, error) {
	secret, st, err := r.loadState(ctx, s.dl)
	var conflict *conflictError
	if errors.As(err, &conflict) {
		s.conflict = conflict.Error()
		return true, nil
	}
	if err != nil {
		return false, err
	}
	s.stateSecret, s.state = secret, st
	if v, ok := r.unsaved.Load(s.dl.UID); ok {
		s.state = v.(*loginState)
		if err := r.persist(ctx, s); err != nil {
			return false, err
		}
	}
	return false, nil
}

// persist writes the state Secret when it changed. When the write fails, the state is kept in
// memory and written first thing on the next reconcile.
func (r *DeviceLoginReconciler) persist(ctx context.Context, s *loginScope) error {
	secret, err := r.saveState(ctx, s.dl, s.stateSecret, s.state)
	if err != nil {
		var conflict *conflictError
		switch {
		case errors.Is(err, errStateMoved):
			// What is stored is newer than what this reconcile decided on: forget it.
			r.unsaved.Delete(s.dl.UID)
		case errors.As(err, &conflict):
			s.conflict = conflict.Error()
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

// reconcileTriggers acts on the annotations users set and on spec changes that affect the grant,
// and works out whether an earlier AccessDenied, ProviderError or CodeExpired still holds.
func (r *DeviceLoginReconciler) reconcileTriggers(ctx context.Context, s *loginScope) (bool, error) {
	dl, st := s.dl, s.state
	// The annotations are acted on only with a usable provider; until then they stay unhandled,
	// and the provider's watch brings them back.
	if v := dl.Annotations[authv1alpha1.ReauthorizeAnnotation]; s.provider != nil && v != "" && v != dl.Status.LastHandledReauthorize {
		dl.Status.LastHandledReauthorize = v
		dl.Status.UnansweredCodes = 0
		s.reauthorize = true
		r.dropCode(s)
		log.FromContext(ctx).Info("Reauthorization requested")
	}
	if v := dl.Annotations[authv1alpha1.RefreshAnnotation]; s.provider != nil && v != "" && v != dl.Status.LastHandledRefresh {
		dl.Status.LastHandledRefresh = v
		s.refreshNow = true
		log.FromContext(ctx).Info("Refresh requested")
	}
	if (st.DeviceCode != "" && s.dl.Status.UserCode == "") || (st.DeviceCode == "" && s.dl.Status.UserCode != "") {
		// Half a pending flow (status or state lost): start over rather than poll blind.
		r.dropCode(s)
	}
	if s.grant != "" && st.DeviceCode != "" && (st.DeviceGrant != s.grant || st.DeviceBinding != s.binding) {
		// The code was asked for another request or of another provider instance: never poll
		// a new host with it.
		r.dropCode(s)
	}
	if err := r.checkBinding(ctx, s); err != nil {
		return false, err
	}
	if dl.Generation != dl.Status.ObservedGeneration {
		dl.Status.UnansweredCodes = 0
	}
	if prev := s.prevReady; prev != nil && !s.reauthorize &&
		haltingReasons[prev.Reason] && prev.ObservedGeneration == dl.Generation && !s.pending() &&
		(prev.Reason != ReasonCodeExpired || r.codesExhausted(dl)) {
		s.halt = &haltInfo{reason: prev.Reason, message: prev.Message}
	}
	return false, nil
}

// checkBinding makes sure stored tokens go only back to the provider instance that issued them.
// Tokens stored before bindings existed adopt the current instance once. When the provider was
// replaced (deleted and created again) or its endpoints moved, the stored tokens are never sent
// there: a new approval is needed, and the current token is served until it expires.
func (r *DeviceLoginReconciler) checkBinding(ctx context.Context, s *loginScope) error {
	st := s.state
	if !st.hasToken() || s.binding == "" || st.Binding == s.binding {
		return nil
	}
	if st.Binding == "" {
		st.Binding = s.binding
		return r.persist(ctx, s)
	}
	if st.NeedsApproval != "" {
		return nil
	}
	st.NeedsApproval = fmt.Sprintf("%s is not the instance that issued the token (it was recreated, or its endpoints changed)", providerName(s.dl))
	if err := r.persist(ctx, s); err != nil {
		return err
	}
	s.dl.Status.NextRefreshTime = nil
	r.event(s.dl, corev1.EventTypeWarning, ReasonReauthorizationRequired, "Reconcile",
		"%s; the stored refresh token is not sent there. Requesting a new user code; the current token %s", st.NeedsApproval, expiryText(st))
	return nil
}

// dropCode forgets the pending device code.
func (r *DeviceLoginReconciler) dropCode(s *loginScope) {
	s.state.DeviceCode, s.state.DeviceGrant, s.state.DeviceBinding = "", "", ""
	clearPendingCode(&s.dl.Status)
	if r.duePolls != nil {
		r.duePolls.forget(client.ObjectKeyFromObject(s.dl))
	}
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
