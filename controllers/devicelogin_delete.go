package controllers

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// RevokeFinalizer holds a DeviceLogin with revokeOnDelete until its tokens are revoked.
const RevokeFinalizer = "auth.devicelogin.dev/revoke"

// revokeGrace is the longest a failing provider may hold up a deletion.
const revokeGrace = 30 * time.Second

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
	return r.Patch(ctx, dl, patch)
}

// reconcileDelete revokes the tokens at the provider (RFC 7009), best effort: after revokeGrace
// of failures the finalizer goes anyway, so a dead provider never blocks a deletion for long.
func (r *DeviceLoginReconciler) reconcileDelete(ctx context.Context, dl *authv1alpha1.DeviceLogin) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(dl, RevokeFinalizer) {
		return ctrl.Result{}, nil
	}
	logger := log.FromContext(ctx)
	now := r.Clock.Now()
	deadline := dl.DeletionTimestamp.Add(revokeGrace)
	err := r.revoke(ctx, dl)
	if err != nil && now.Before(deadline) {
		logger.Info("Revocation failed, will retry", "reason", err.Error(), "giveUpAt", timestamp(deadline))
		return ctrl.Result{RequeueAfter: min(5*time.Second, max(deadline.Sub(now), minRequeue))}, nil
	}
	if err != nil {
		r.event(dl, corev1.EventTypeWarning, "RevocationFailed", "Delete", "Could not revoke the tokens at %s within %s: %s; deleting anyway",
			providerName(dl), revokeGrace, err)
	} else {
		logger.Info("Tokens revoked")
	}
	patch := client.MergeFrom(dl.DeepCopy())
	controllerutil.RemoveFinalizer(dl, RevokeFinalizer)
	return ctrl.Result{}, client.IgnoreNotFound(r.Patch(ctx, dl, patch))
}

// revoke revokes the refresh token, then the access token, when the provider has a revocation
// endpoint.
func (r *DeviceLoginReconciler) revoke(ctx context.Context, dl *authv1alpha1.DeviceLogin) error {
	s := &loginScope{dl: dl, before: dl.DeepCopy(), now: r.Clock.Now()}
	_, st, err := r.loadState(ctx, dl)
	if err != nil {
		if _, ok := err.(*conflictError); ok {
			return nil
		}
		return err
	}
	if !st.hasToken() {
		return nil
	}
	s.state = st
	if _, err := r.reconcileProvider(ctx, s); err != nil {
		return err
	}
	if s.provider == nil {
		return errors.New(s.providerProblem)
	}
	if s.provider.endpoints.RevocationURL == "" {
		return nil
	}
	cfg, err := r.clientConfig(ctx, s)
	if err != nil {
		return err
	}
	if st.RefreshToken != "" {
		if err := r.Flow.Revoke(ctx, cfg, st.RefreshToken, "refresh_token"); err != nil {
			return err
		}
	}
	return r.Flow.Revoke(ctx, cfg, st.AccessToken, "access_token")
}
