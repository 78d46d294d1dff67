package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/devicelogin-dev/devicelogin-operator/internal/secrethash"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// reconcileTokenSecret makes the token Secret match the state: it writes a new token, restores a
// deleted or hand-edited Secret without asking anyone to approve again, and follows changes of
// secretName, secretTemplate and includeRefreshToken. It writes nothing when the Secret is already
// right. Templates that do not parse (s.templates nil) or fail to render leave the last good
// Secret as it is, and so does a Secret the API server refuses: both are InvalidSpec. A Secret of
// that name that this DeviceLogin does not own is a SecretConflict. The outcome says whether the
// Secret holds the current token (served), which Ready needs when a later error leaves it unsure.
func (r *DeviceLoginReconciler) reconcileTokenSecret(ctx context.Context, s *loginScope) (outcome, error) {
	dl, st := s.dl, s.state
	if !st.hasToken() || s.templates == nil {
		return outcome{}, nil
	}
	data, err := renderTokenSecret(dl, st, s.templates)
	if err != nil {
		return outcome{block: invalidSpec(err.Error())}, nil
	}
	want, err := r.desiredTokenSecret(dl, data)
	if err != nil {
		return outcome{}, err
	}
	wrote, err := r.applyTokenSecret(ctx, dl, want)
	var conflict *conflictError
	switch {
	case errors.As(err, &conflict):
		return outcome{block: secretConflict(conflict)}, nil
	case apierrors.IsInvalid(err):
		// The API server refuses the Secret (a type whose required keys the template does not
		// provide, say): the spec has to change, retrying will not help.
		return outcome{block: invalidSpec(fmt.Sprintf("the API server refuses the token Secret %s of type %s: %s",
			want.Name, want.Type, invalidCauses(err)))}, nil
	case err != nil:
		return outcome{}, err
	}
	if wrote {
		log.FromContext(ctx).V(1).Info("Token Secret written", "secret", want.Name)
	}
	if err := r.deleteOldTokenSecret(ctx, dl); err != nil {
		return outcome{}, err
	}
	dl.Status.SecretName = want.Name
	o := outcome{served: true}
	if !st.Expiry.IsZero() && st.tokenValid(s.now) {
		o.wakeAt(st.Expiry) // Ready turns False when it expires
	}
	return o, nil
}

// desiredTokenSecret is the token Secret as api.md describes it.
func (r *DeviceLoginReconciler) desiredTokenSecret(dl *authv1alpha1.DeviceLogin, data map[string][]byte) (*corev1.Secret, error) {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: dl.TokenSecretName(), Namespace: dl.Namespace, Labels: map[string]string{}, Annotations: map[string]string{}},
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
	if t := dl.Spec.SecretTemplate; t != nil {
		maps.Copy(s.Labels, t.Labels)
		maps.Copy(s.Annotations, t.Annotations)
		if t.Type != "" {
			s.Type = corev1.SecretType(t.Type)
		}
	}
	s.Labels[authv1alpha1.DeviceLoginLabel] = dl.Name
	// A hash of the data, so that Reloader-style tools see a new token without reading it.
	s.Annotations[authv1alpha1.DataHashAnnotation] = secrethash.DataHash(data)
	if err := controllerutil.SetControllerReference(dl, s, r.Scheme); err != nil {
		return nil, err
	}
	return s, nil
}

// applyTokenSecret creates or updates the token Secret so that it matches want, and reports
// whether it wrote. A Secret of that name that this DeviceLogin does not own is left alone and
// reported as a conflictError. A Secret that lost the operator's label drops out of the cache;
// the create that the API server refuses for it leads to reading it there, so that it is repaired
// rather than reported as a conflict.
func (r *DeviceLoginReconciler) applyTokenSecret(ctx context.Context, dl *authv1alpha1.DeviceLogin, want *corev1.Secret) (bool, error) {
	var have corev1.Secret
	key := client.ObjectKeyFromObject(want)
	err := r.read(ctx, secretKey(key), key, &have)
	if apierrors.IsNotFound(err) {
		// Not in the cache: most often there is none yet, so the create goes first and costs one
		// request. When one exists after all (it lost the operator's label, or the cache has not
		// seen it yet), the API server says so, and it is read and handled below.
		if err = r.Create(ctx, want); err == nil || !apierrors.IsAlreadyExists(err) {
			return err == nil, r.write(ctx, want, err)
		}
		err = r.APIReader.Get(ctx, key, &have)
	}
	if err != nil {
		return false, err
	}
	if !ownedBy(&have, dl) {
		return false, &conflictError{name: want.Name}
	}
	if have.Type != want.Type {
		// The type of a Secret cannot change, so it is replaced: but only once the API server has
		// accepted the new one in a dry run, so that a type whose keys the template does not
		// provide never costs the workload its current Secret.
		probe := want.DeepCopy()
		probe.Name, probe.GenerateName = "", want.Name+"-"
		if err := r.Create(ctx, probe, client.DryRunAll); err != nil {
			return false, err
		}
		if err := r.Delete(ctx, &have, client.Preconditions{UID: &have.UID}); err != nil && !apierrors.IsNotFound(err) {
			return false, err
		}
		return true, r.write(ctx, want, r.Create(ctx, want))
	}
	updated := have.DeepCopy()
	updated.Data = want.Data
	if updated.Labels == nil {
		updated.Labels = map[string]string{}
	}
	maps.Copy(updated.Labels, want.Labels)
	if len(want.Annotations) > 0 && updated.Annotations == nil {
		updated.Annotations = map[string]string{}
	}
	maps.Copy(updated.Annotations, want.Annotations)
	updated.OwnerReferences = want.OwnerReferences
	if equality.Semantic.DeepEqual(&have, updated) {
		return false, nil
	}
	return true, r.write(ctx, updated, r.Update(ctx, updated))
}

// write records a successful write of obj in writeExpectations and passes err on.
func (r *DeviceLoginReconciler) write(_ context.Context, obj *corev1.Secret, err error) error {
	if err == nil {
		r.expect.wrote(secretKey(client.ObjectKeyFromObject(obj)), obj, r.Clock.Now())
	}
	return err
}

// deleteOldTokenSecret removes the token Secret of a previous spec.secretName, if it is ours.
func (r *DeviceLoginReconciler) deleteOldTokenSecret(ctx context.Context, dl *authv1alpha1.DeviceLogin) error {
	old := dl.Status.SecretName
	if old == "" || old == dl.TokenSecretName() || old == stateSecretName(dl) {
		return nil
	}
	var s corev1.Secret
	if err := r.Get(ctx, types.NamespacedName{Namespace: dl.Namespace, Name: old}, &s); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !ownedBy(&s, dl) {
		return nil
	}
	return client.IgnoreNotFound(r.Delete(ctx, &s, client.Preconditions{UID: &s.UID}))
}

// invalidCauses lists the fields an Invalid error names and why, without the values (the API
// server redacts Secret data, but nothing here relies on that).
func invalidCauses(err error) string {
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Details == nil || len(status.Status().Details.Causes) == 0 {
		return "the object is invalid"
	}
	parts := make([]string, 0, len(status.Status().Details.Causes))
	for _, c := range status.Status().Details.Causes {
		parts = append(parts, fmt.Sprintf("%s: %s", c.Field, c.Type))
	}
	return strings.Join(parts, "; ")
}
