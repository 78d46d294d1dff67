package controllers

import (
	"context"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
	"github.com/devicelogin-dev/devicelogin-operator/internal/presets"
)

// resolvedProvider is a Ready provider as a DeviceLogin uses it.
type resolvedProvider struct {
	obj       authv1alpha1.ProviderObject
	endpoints oauth.Endpoints
	quirks    oauth.Quirks
	authStyle oauth.AuthStyle
}

// reconcileProvider finds the provider the DeviceLogin references, from the cache: endpoints come
// from the provider's status (its own controller runs discovery), so nothing here talks to the
// provider. A ClusterOAuthProvider's allowedNamespaces is enforced here.
func (r *DeviceLoginReconciler) reconcileProvider(ctx context.Context, s *loginScope) (bool, error) {
	dl := s.dl
	ref := dl.Spec.ProviderRef
	var obj authv1alpha1.ProviderObject
	key := types.NamespacedName{Name: ref.Name}
	if ref.Kind == authv1alpha1.ClusterOAuthProviderKind {
		obj = &authv1alpha1.ClusterOAuthProvider{}
	} else {
		obj = &authv1alpha1.OAuthProvider{}
		key.Namespace = dl.Namespace
	}
	if err := r.Get(ctx, key, obj); err != nil {
		if apierrors.IsNotFound(err) {
			s.providerProblem = fmt.Sprintf("%s not found", providerName(dl))
			return false, nil
		}
		return false, err
	}
	spec, status := obj.ProviderSpec(), obj.ProviderStatus()
	if ref.Kind == authv1alpha1.ClusterOAuthProviderKind && len(spec.AllowedNamespaces) > 0 &&
		!slices.Contains(spec.AllowedNamespaces, dl.Namespace) {
		s.providerProblem = fmt.Sprintf("%s does not allow namespace %s (see its allowedNamespaces)", providerName(dl), dl.Namespace)
		s.forbidden = true
		return false, nil
	}
	s.grant = grantFingerprint(dl, spec.ClientID)
	ready := meta.FindStatusCondition(status.Conditions, ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionTrue || status.ObservedGeneration != obj.GetGeneration() {
		msg := "its endpoints are not resolved yet"
		if ready != nil && ready.Status != metav1.ConditionTrue {
			msg = ready.Message
		}
		s.providerProblem = fmt.Sprintf("%s is not ready: %s", providerName(dl), msg)
		return false, nil
	}
	p := &resolvedProvider{obj: obj, endpoints: oauth.Endpoints{
		Issuer:                 status.Issuer,
		DeviceAuthorizationURL: status.DeviceAuthorizationURL,
		TokenURL:               status.TokenURL,
		RevocationURL:          status.RevocationURL,
		UserinfoURL:            status.UserinfoURL,
		JWKSURL:                status.JWKSURL,
	}}
	if spec.Preset != "" {
		if preset, err := presets.Lookup(string(spec.Preset)); err == nil {
			p.quirks, p.authStyle = preset.Quirks, preset.AuthStyle
		}
	}
	switch {
	case spec.ClientAuthentication != "":
		p.authStyle = oauth.AuthStyle(spec.ClientAuthentication)
	case spec.ClientSecretRef == nil:
		p.authStyle = oauth.AuthNone
	case p.authStyle == "":
		p.authStyle = oauth.AuthBasic
	}
	s.provider = p
	return false, nil
}

// clientConfig is what the oauth client needs for one request. The client secret is read now,
// from the namespace the API contract allows, and never kept.
func (r *DeviceLoginReconciler) clientConfig(ctx context.Context, s *loginScope) (oauth.ClientConfig, error) {
	p := s.provider
	secret, err := readClientSecret(ctx, r.APIReader, p.obj, r.ClusterResourceNamespace)
	if err != nil {
		return oauth.ClientConfig{}, err
	}
	return oauth.ClientConfig{
		Endpoints:    p.endpoints,
		ClientID:     p.obj.ProviderSpec().ClientID,
		ClientSecret: secret,
		AuthStyle:    p.authStyle,
		Quirks:       p.quirks,
	}, nil
}
