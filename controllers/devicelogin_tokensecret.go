package controllers

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/log"
)

// reconcileTokenSecret makes the token Secret match the state: it writes a new token, restores a
// deleted or hand-edited Secret without asking anyone to approve again, and follows changes of
// secretName, secretTemplate and includeRefreshToken. It writes nothing when the Secret is already
// right. A template that fails to render leaves the last good Secret as it is.
func (r *DeviceLoginReconciler) reconcileTokenSecret(ctx context.Context, s *loginScope) (bool, error) {
	dl, st := s.dl, s.state
	if !st.hasToken() || s.forbidden || s.invalidSpec != "" {
		return false, nil
	}
	data, err := renderTokenSecret(dl, st, s.templates)
	if err != nil {
		s.invalidSpec = err.Error()
		return false, nil
	}
	want, err := r.desiredTokenSecret(dl, data)
	if err != nil {
		return false, err
	}
	wrote, err := r.applyTokenSecret(ctx, dl, want)
	if conflict, ok := err.(*conflictError); ok {
		s.conflict = conflict.Error()
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if wrote {
		log.FromContext(ctx).V(1).Info("Token Secret written", "secret", want.Name)
	}
	if err := r.deleteOldTokenSecret(ctx, dl); err != nil {
		return false, err
	}
	dl.Status.SecretName = want.Name
	if !st.Expiry.IsZero() && st.tokenValid(s.now) {
		s.wakeAt(st.Expiry) // Ready turns False when it expires
	}
	return false, nil
}
