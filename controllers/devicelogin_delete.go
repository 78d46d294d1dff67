package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// RevokeFinalizer holds a DeviceLogin with revokeOnDelete, and its state Secret, until its tokens
// are revoked. The state Secret carries it too so that the grant survives until then even when the
// whole namespace is deleted (which deletes the Secret directly, not through its owner).
const RevokeFinalizer = "auth.devicelogin.dev/revoke"

// revokeGrace is the longest a failing provider may hold up a deletion.
const revokeGrace = 30 * time.Second

// Event reasons of deletion.
const (
	EventRevoked           = "Revoked"
	EventRevocationFailed  = "RevocationFailed"
	EventRevocationSkipped = "RevocationSkipped"
)

// reconcileFinalizer adds the finalizer when revokeOnDelete is set and removes it when it is not.
func (r *DeviceLoginReconciler) reconcileFinalizer(ctx context.Context, dl *authv1alpha1.DeviceLogin) error {
	has := controllerutil.ContainsFinalizer(dl, RevokeFinalizer)
	if has == dl.Spec.RevokeOnDelete {
		return nil
	}
	patch := client.MergeFrom(dl.DeepCopy())
	if dl.Spec.RevokeOnDelete {
		controllerutil.AddFinalizer(dl, RevokeFinalizer)
	} else {
		controllerutil.RemoveFinalizer(dl, RevokeFinalizer)
	}
	if err := r.Patch(ctx, dl, patch); err != nil {
		return err
	}
	r.expect.wrote(loginKey(client.ObjectKeyFromObject(dl)), dl, r.Clock.Now())
	return nil
}

// reconcileDelete revokes the tokens at the provider (RFC 7009), best effort: after revokeGrace
// of failures the finalizers go anyway, so a dead provider never blocks a deletion for long. The
// event says what really happened: revoked, nothing to revoke, or not revoked and why.
func (r *DeviceLoginReconciler) reconcileDelete(ctx context.Context, dl *authv1alpha1.DeviceLogin) (ctrl.Result, error) {
	if uid, ok := r.deleted.Load(client.ObjectKeyFromObject(dl)); ok && uid == dl.UID {
		// Done already: the cache has not yet seen the finalizers go.
		return ctrl.Result{}, nil
	}
	stateSecret, st, err := r.loadState(ctx, dl)
	var conflict *conflictError
	switch {
	case errors.As(err, &conflict):
		stateSecret, st = nil, &loginState{} // not ours: nothing of ours to revoke
	case err != nil:
		return ctrl.Result{}, err
	}
	held := stateSecret != nil && controllerutil.ContainsFinalizer(stateSecret, RevokeFinalizer)
	if !controllerutil.ContainsFinalizer(dl, RevokeFinalizer) && !held {
		return ctrl.Result{}, nil
	}
	now := r.Clock.Now()
	deadline := dl.DeletionTimestamp.Add(revokeGrace)
	rev, err := r.revokeAtDeletion(ctx, dl, st)
	if err != nil && now.Before(deadline) {
		log.FromContext(ctx).Info("Revocation failed, will retry", "reason", err.Error(), "giveUpAt", timestamp(deadline))
		return ctrl.Result{RequeueAfter: min(5*time.Second, max(deadline.Sub(now), minRequeue))}, nil
	}
	switch {
	case err != nil:
		r.event(dl, corev1.EventTypeWarning, EventRevocationFailed, "Delete", "Could not revoke the tokens at %s within %s: %s; deleting anyway",
			providerName(dl), revokeGrace, err)
	case rev.revoked:
		log.FromContext(ctx).Info("Tokens revoked")
		r.event(dl, corev1.EventTypeNormal, EventRevoked, "Delete", "Revoked the tokens at %s", providerName(dl))
	default:
		log.FromContext(ctx).Info("Tokens not revoked", "reason", rev.skipped)
		r.event(dl, corev1.EventTypeNormal, EventRevocationSkipped, "Delete", "Did not revoke anything: %s", rev.skipped)
	}
	if held {
		patch := client.MergeFrom(stateSecret.DeepCopy())
		controllerutil.RemoveFinalizer(stateSecret, RevokeFinalizer)
		if err := client.IgnoreNotFound(r.Patch(ctx, stateSecret, patch)); err != nil {
			return ctrl.Result{}, err
		}
	}
	patch := client.MergeFrom(dl.DeepCopy())
	controllerutil.RemoveFinalizer(dl, RevokeFinalizer)
	if err := r.Patch(ctx, dl, patch); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	r.deleted.Store(client.ObjectKeyFromObject(dl), dl.UID)
	return ctrl.Result{}, nil
}

// revokeOutcome says what a revocation did: revoked, or why nothing was sent.
type revokeOutcome struct {
	revoked bool
	skipped string
}

// revokeAtDeletion resolves the provider of a DeviceLogin being deleted and revokes its stored
// tokens there.
func (r *DeviceLoginReconciler) revokeAtDeletion(ctx context.Context, dl *authv1alpha1.DeviceLogin, st *loginState) (revokeOutcome, error) {
	if !st.hasToken() {
		return revokeOutcome{skipped: "no tokens were stored"}, nil
	}
	if !dl.Spec.RevokeOnDelete {
		return revokeOutcome{skipped: "revokeOnDelete is off"}, nil
	}
	obj, err := r.getProvider(ctx, dl)
	if apierrors.IsNotFound(err) {
		return revokeOutcome{skipped: fmt.Sprintf("%s no longer exists; the tokens stay valid until they expire", providerName(dl))}, nil
	}
	if err != nil {
		return revokeOutcome{}, err
	}
	return r.revokeStored(ctx, dl, resolveProvider(obj), providerBinding(obj), st)
}

// revokeStored revokes the refresh token, then the access token, at the provider that issued
// them. Tokens are never sent to another provider instance than the one that issued them.
func (r *DeviceLoginReconciler) revokeStored(ctx context.Context, dl *authv1alpha1.DeviceLogin, p *resolvedProvider, binding string, st *loginState) (revokeOutcome, error) {
	switch {
	case !st.hasToken():
		return revokeOutcome{skipped: "no tokens were stored"}, nil
	case st.Binding != "" && st.Binding != binding:
		return revokeOutcome{skipped: fmt.Sprintf("%s is not the instance that issued the tokens (it was recreated, or its endpoints changed); they stay valid until they expire", providerName(dl))}, nil
	case p.endpoints.RevocationURL == "":
		return revokeOutcome{skipped: fmt.Sprintf("%s has no revocation endpoint; the tokens stay valid until they expire", providerName(dl))}, nil
	}
	cfg, err := r.clientConfigFor(ctx, p)
	if err != nil {
		return revokeOutcome{}, err
	}
	pctx, cancel := providerContext(ctx)
	defer cancel()
	if st.RefreshToken != "" {
		if err := r.flowFor(p).Revoke(pctx, cfg, st.RefreshToken, "refresh_token"); err != nil {
			return revokeOutcome{}, err
		}
	}
	if err := r.flowFor(p).Revoke(pctx, cfg, st.AccessToken, "access_token"); err != nil {
		return revokeOutcome{}, err
	}
	return revokeOutcome{revoked: true}, nil
}
