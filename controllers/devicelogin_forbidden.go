package controllers

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// EventNamespaceNotAllowed announces that a login stopped being served because its
// ClusterOAuthProvider no longer allows its namespace.
const EventNamespaceNotAllowed = "NamespaceNotAllowed"

// reconcileForbidden stops serving a DeviceLogin whose ClusterOAuthProvider no longer allows its
// namespace, completely: the tokens are revoked at the provider when it has a revocation endpoint,
// and the token Secret, the stored grant and any pending code are deleted, with an event that says
// so. No later step runs for such a login until the namespace is allowed again, when a new
// approval starts from scratch. by is the provider that does not allow the namespace, and
// forbidden the blocker reconcileProvider made of it, whose message the event repeats.
func (r *DeviceLoginReconciler) reconcileForbidden(ctx context.Context, s *loginScope, by *resolvedProvider, forbidden *blocker) (outcome, error) {
	stop := outcome{stop: true}
	dl, st := s.dl, s.state
	var done []string
	if st.hasToken() {
		rev, err := r.revokeStored(ctx, dl, by, s.binding, st)
		switch {
		case err != nil:
			done = append(done, fmt.Sprintf("could not revoke the tokens (%s)", err))
		case rev.revoked:
			done = append(done, "revoked the tokens at the provider")
		default:
			done = append(done, "did not revoke the tokens: "+rev.skipped)
		}
	}
	deleted, err := r.deleteTokenSecret(ctx, s)
	if err != nil {
		return stop, err
	}
	if deleted != "" {
		done = append(done, "deleted Secret "+deleted)
	}
	if st.hasToken() || st.DeviceCode != "" {
		done = append(done, "deleted the stored grant")
	}
	if *st != (loginState{}) {
		*st = loginState{}
		if err := r.persist(ctx, s); err != nil {
			return stop, err
		}
	}
	ds := &dl.Status
	clearPendingCode(ds)
	ds.TokenExpiresAt, ds.NextRefreshTime, ds.LastRefreshTime, ds.AuthorizedAt = nil, nil, nil, nil
	ds.AuthorizedSubject, ds.GrantedScopes, ds.SecretName, ds.ConsecutiveFailures = "", nil, "", 0
	if len(done) > 0 {
		log.FromContext(ctx).Info("Stopped serving: the provider does not allow this namespace", "actions", strings.Join(done, "; "))
		r.event(dl, corev1.EventTypeWarning, EventNamespaceNotAllowed, "Reconcile", "%s; %s", forbidden.message, strings.Join(done, ", "))
	}
	return stop, nil
}

// deleteTokenSecret deletes the token Secret (by status.secretName and spec) if this DeviceLogin
// owns it, and returns its name when it deleted one.
func (r *DeviceLoginReconciler) deleteTokenSecret(ctx context.Context, s *loginScope) (string, error) {
	dl := s.dl
	names := []string{dl.TokenSecretName()}
	if old := dl.Status.SecretName; old != "" && old != names[0] {
		names = append(names, old)
	}
	var deleted []string
	for _, name := range names {
		var sec corev1.Secret
		err := r.Get(ctx, types.NamespacedName{Namespace: dl.Namespace, Name: name}, &sec)
		if apierrors.IsNotFound(err) || (err == nil && !ownedBy(&sec, dl)) || name == stateSecretName(dl) {
			continue
		}
		if err != nil {
			return "", err
		}
		if err := r.Delete(ctx, &sec, client.Preconditions{UID: &sec.UID}); err != nil && !apierrors.IsNotFound(err) {
			return "", err
		}
		deleted = append(deleted, name)
	}
	return strings.Join(deleted, ", "), nil
}
