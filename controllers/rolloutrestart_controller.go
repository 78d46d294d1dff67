package controllers

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/eventsink"
	"github.com/devicelogin-dev/devicelogin-operator/internal/metrics"
	"github.com/devicelogin-dev/devicelogin-operator/internal/secrethash"
)

// Event reasons of the rollout-restart controller.
const (
	EventRolloutRestarted     = "RolloutRestarted"
	EventRolloutRestartFailed = "RolloutRestartFailed"
)

// defaultRolloutRestartMinInterval applies when spec.rolloutRestartMinInterval is unset (the API
// server defaults it; objects from before the field existed have none).
const defaultRolloutRestartMinInterval = 5 * time.Minute

// RolloutRestartReconciler restarts a DeviceLogin's spec.rolloutRestartTargets when the data of
// its token Secret changes, as `kubectl rollout restart` does: it sets the pod template annotation
// auth.devicelogin.dev/restartedAt. The first data it sees restarts nothing; restarts are at least
// spec.rolloutRestartMinInterval apart. What was restarted for is kept in status
// (rolloutRestartedDataHash, lastRolloutRestartTime), so a restarted operator resumes exactly.
type RolloutRestartReconciler struct {
	client.Client
	Clock    clock.PassiveClock
	Recorder events.EventRecorder

	// written holds, per DeviceLogin, the restart state this process decided last (restartState),
	// ahead of a cache that may not have seen its status write yet: a stale DeviceLogin must not
	// restart the targets a second time.
	written sync.Map
}

// restartState is what the targets were last restarted for.
type restartState struct {
	uid  types.UID
	hash string
	// at is when the targets were restarted for hash; zero for the first hash seen. It is chosen
	// once per hash, so that a retry after a failed patch sets the same annotation value, which
	// restarts nothing a second time.
	at time.Time
	// saved is false while the state is not yet in status.
	saved bool
}

// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets,verbs=patch
// +kubebuilder:rbac:groups=auth.devicelogin.dev,resources=devicelogins,verbs=get;list;watch
// +kubebuilder:rbac:groups=auth.devicelogin.dev,resources=devicelogins/status,verbs=patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// SetupRolloutRestartWithManager registers the rollout-restart controller. It reads DeviceLogins
// and token Secrets from the manager's cache (which holds only Secrets labelled
// auth.devicelogin.dev/devicelogin) and patches workloads directly, without caching them.
func SetupRolloutRestartWithManager(mgr ctrl.Manager, clk clock.PassiveClock) error {
	if clk == nil {
		clk = clock.RealClock{}
	}
	recorder, err := eventsink.ForManager(mgr, "devicelogin-rollout-restart")
	if err != nil {
		return err
	}
	r := &RolloutRestartReconciler{Client: mgr.GetClient(), Clock: clk, Recorder: recorder}
	return ctrl.NewControllerManagedBy(mgr).Named("rolloutrestart").
		For(&authv1alpha1.DeviceLogin{}, builder.WithPredicates(restartInputsChanged{})).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.loginForSecret),
			builder.WithPredicates(secretDataChanged{})).
		Complete(r)
}

// Reconcile compares the token Secret's data hash with the one the targets were last restarted
// for, and restarts them when it differs and the minimum interval has passed.
func (r *RolloutRestartReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	dl := &authv1alpha1.DeviceLogin{}
	if err := r.Get(ctx, req.NamespacedName, dl); err != nil {
		if apierrors.IsNotFound(err) {
			r.written.Delete(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !dl.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	st := r.state(dl)
	if len(dl.Spec.RolloutRestartTargets) == 0 {
		// Opting out forgets: opting in again starts from the data as it is then.
		if st.hash != "" || !st.at.IsZero() {
			return ctrl.Result{}, r.save(ctx, dl, restartState{uid: dl.UID})
		}
		return ctrl.Result{}, nil
	}

	hash, ok, err := r.tokenHash(ctx, dl)
	if err != nil || !ok {
		return ctrl.Result{}, err
	}
	switch {
	case st.hash == "":
		// Workloads that start now read the current data: nothing to restart for.
		return ctrl.Result{}, r.save(ctx, dl, restartState{uid: dl.UID, hash: hash})
	case st.hash == hash && st.saved:
		return ctrl.Result{}, nil
	}
	now := r.Clock.Now()
	if st.hash != hash {
		if wait := st.at.Add(minInterval(dl)).Sub(now); !st.at.IsZero() && wait > 0 {
			log.FromContext(ctx).V(1).Info("Token Secret changed; restart postponed to the end of the minimum interval",
				"after", wait.Round(time.Second))
			return ctrl.Result{RequeueAfter: wait}, nil
		}
		st = restartState{uid: dl.UID, hash: hash, at: now.Truncate(time.Second)}
		r.written.Store(req.NamespacedName, st)
	}
	if err := r.restartTargets(ctx, dl, st.at); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, r.save(ctx, dl, st)
}

// state is the restart state of dl: this process's own last decision when it has one for this
// object, else status.
func (r *RolloutRestartReconciler) state(dl *authv1alpha1.DeviceLogin) restartState {
	if v, ok := r.written.Load(client.ObjectKeyFromObject(dl)); ok && v.(restartState).uid == dl.UID {
		return v.(restartState)
	}
	st := restartState{uid: dl.UID, hash: dl.Status.RolloutRestartedDataHash, saved: true}
	if t := dl.Status.LastRolloutRestartTime; t != nil {
		st.at = t.Time
	}
	return st
}

// tokenHash is the data hash of dl's token Secret; ok is false while there is none (the Secret
// not yet written, or not controlled by this DeviceLogin: the cache keeps no data of those).
func (r *RolloutRestartReconciler) tokenHash(ctx context.Context, dl *authv1alpha1.DeviceLogin) (string, bool, error) {
	if dl.Status.SecretName == "" {
		return "", false, nil
	}
	s := &corev1.Secret{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: dl.Namespace, Name: dl.Status.SecretName}, s); err != nil {
		return "", false, client.IgnoreNotFound(err)
	}
	if !metav1.IsControlledBy(s, dl) {
		return "", false, nil
	}
	return secrethash.DataHash(s.Data), true, nil
}

// restartTargets sets the restartedAt annotation of every target's pod template to at. A missing
// target, or one the operator may not patch, gets a RolloutRestartFailed event and is skipped; any
// other failure is returned, for a retry with the same at.
func (r *RolloutRestartReconciler) restartTargets(ctx context.Context, dl *authv1alpha1.DeviceLogin, at time.Time) error {
	patch := fmt.Appendf(nil, `{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`,
		authv1alpha1.RestartedAtAnnotation, at.UTC().Format(time.RFC3339))
	var restarted []string
	for _, t := range dl.Spec.RolloutRestartTargets {
		obj := workload(t.Kind)
		if obj == nil {
			continue // the API server's enum keeps other kinds out
		}
		obj.SetNamespace(dl.Namespace)
		obj.SetName(t.Name)
		err := r.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch))
		switch {
		case err == nil:
			restarted = append(restarted, string(t.Kind)+"/"+t.Name)
			metrics.RecordRestart(dl.Namespace, string(t.Kind))
		case apierrors.IsNotFound(err):
			r.Recorder.Eventf(dl, nil, corev1.EventTypeWarning, EventRolloutRestartFailed, "RolloutRestart",
				"%s %s not found in namespace %s; not restarted", t.Kind, t.Name, dl.Namespace)
		case apierrors.IsForbidden(err), apierrors.IsInvalid(err):
			r.Recorder.Eventf(dl, nil, corev1.EventTypeWarning, EventRolloutRestartFailed, "RolloutRestart",
				"%s %s not restarted: %s", t.Kind, t.Name, apierrors.ReasonForError(err))
		default:
			return fmt.Errorf("restarting %s %s: %w", t.Kind, t.Name, err)
		}
	}
	if len(restarted) > 0 {
		log.FromContext(ctx).Info("Restarted workloads after the token Secret changed",
			"secret", dl.Status.SecretName, "workloads", restarted)
		r.Recorder.Eventf(dl, nil, corev1.EventTypeNormal, EventRolloutRestarted, "RolloutRestart",
			"Restarted %s: the data of Secret %s changed", strings.Join(restarted, ", "), dl.Status.SecretName)
	}
	return nil
}

// save writes st into dl's status with a merge patch of the two fields this controller owns, and
// remembers it.
func (r *RolloutRestartReconciler) save(ctx context.Context, dl *authv1alpha1.DeviceLogin, st restartState) error {
	before := dl.DeepCopy()
	dl.Status.RolloutRestartedDataHash = st.hash
	dl.Status.LastRolloutRestartTime = nil
	if !st.at.IsZero() {
		dl.Status.LastRolloutRestartTime = &metav1.Time{Time: st.at}
	}
	if err := r.Status().Patch(ctx, dl, client.MergeFrom(before)); err != nil {
		return err
	}
	st.saved = true
	r.written.Store(client.ObjectKeyFromObject(dl), st)
	return nil
}

// minInterval is dl's least time between two restarts.
func minInterval(dl *authv1alpha1.DeviceLogin) time.Duration {
	if d := dl.Spec.RolloutRestartMinInterval; d != nil && d.Duration >= 0 {
		return d.Duration
	}
	return defaultRolloutRestartMinInterval
}

// workload is an empty object of a target's kind.
func workload(kind authv1alpha1.RolloutRestartKind) client.Object {
	switch kind {
	case authv1alpha1.RolloutRestartDeployment:
		return &appsv1.Deployment{}
	case authv1alpha1.RolloutRestartStatefulSet:
		return &appsv1.StatefulSet{}
	case authv1alpha1.RolloutRestartDaemonSet:
		return &appsv1.DaemonSet{}
	}
	return nil
}

// loginForSecret maps a token Secret to its DeviceLogin, when that DeviceLogin has targets and the
// Secret is its current token Secret (not its state Secret, nor one it used before).
func (r *RolloutRestartReconciler) loginForSecret(ctx context.Context, obj client.Object) []reconcile.Request {
	name := obj.GetLabels()[authv1alpha1.DeviceLoginLabel]
	if name == "" {
		return nil
	}
	key := types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}
	dl := &authv1alpha1.DeviceLogin{}
	if err := r.Get(ctx, key, dl); err != nil || dl.Status.SecretName != obj.GetName() ||
		len(dl.Spec.RolloutRestartTargets) == 0 {
		return nil
	}
	return []reconcile.Request{{NamespacedName: key}}
}

// restartInputsChanged lets through the DeviceLogin events that can change what to restart: a
// new object, a spec change (targets, interval), a new token Secret name, and deletion (which
// clears the controller's memory).
type restartInputsChanged struct{ predicate.Funcs }

// Update reports whether the spec or status.secretName changed.
func (restartInputsChanged) Update(e event.UpdateEvent) bool {
	oldDL, okOld := e.ObjectOld.(*authv1alpha1.DeviceLogin)
	newDL, okNew := e.ObjectNew.(*authv1alpha1.DeviceLogin)
	if !okOld || !okNew {
		return false
	}
	return oldDL.Generation != newDL.Generation || oldDL.Status.SecretName != newDL.Status.SecretName
}

// Generic events do not occur for DeviceLogins.
func (restartInputsChanged) Generic(event.GenericEvent) bool { return false }

// secretDataChanged lets through new Secrets and Secrets whose data changed: not the metadata-only
// updates (labels, annotations, the data-hash stamp itself) and not deletions, after which the
// DeviceLogin controller writes the Secret again.
type secretDataChanged struct{ predicate.Funcs }

// Update reports whether the data changed.
func (secretDataChanged) Update(e event.UpdateEvent) bool {
	oldS, okOld := e.ObjectOld.(*corev1.Secret)
	newS, okNew := e.ObjectNew.(*corev1.Secret)
	return okOld && okNew && !maps.EqualFunc(oldS.Data, newS.Data, bytes.Equal)
}

// Delete ignores deleted Secrets.
func (secretDataChanged) Delete(event.DeleteEvent) bool { return false }

// Generic ignores generic events.
func (secretDataChanged) Generic(event.GenericEvent) bool { return false }
