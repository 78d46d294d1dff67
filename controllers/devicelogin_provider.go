package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
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

// providerOutcome is what reconcileProvider decided. A usable provider goes into the scope
// (s.provider, s.grant, s.binding), for every later step.
type providerOutcome struct {
	outcome
	// forbiddenBy is the ClusterOAuthProvider that does not allow the DeviceLogin's namespace:
	// reconcileForbidden then stops serving it, and no other step runs.
	forbiddenBy *resolvedProvider
}

// reconcileProvider finds the provider the DeviceLogin references, from the cache: endpoints come
// from the provider's status (its own controller runs discovery), so nothing here talks to the
// provider. A provider that is missing or not ready yet is a ProviderNotReady blocker, which Ready
// shows unless a valid token or a pending code says more. A ClusterOAuthProvider's
// allowedNamespaces is enforced here: a namespace it does not allow is not served at all (see
// reconcileForbidden).
func (r *DeviceLoginReconciler) reconcileProvider(ctx context.Context, s *loginScope) (providerOutcome, error) {
	dl := s.dl
	obj, err := r.getProvider(ctx, dl)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return providerOutcome{outcome: outcome{block: providerProblem(fmt.Sprintf("%s not found", providerName(dl)), true)}}, nil
		}
		return providerOutcome{}, err
	}
	spec, status := obj.ProviderSpec(), obj.ProviderStatus()
	s.binding = providerBinding(obj)
	if !namespaceAllowed(obj, dl.Namespace) {
		msg := fmt.Sprintf("%s does not allow namespace %s (see its allowedNamespaces)", providerName(dl), dl.Namespace)
		return providerOutcome{
			outcome:     outcome{block: &blocker{kind: blockForbidden, reason: ReasonProviderNotReady, message: msg, warn: true}},
			forbiddenBy: resolveProvider(obj),
		}, nil
	}
	s.grant = grantFingerprint(dl, spec.ClientID)
	ready := meta.FindStatusCondition(status.Conditions, ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionTrue || status.ObservedGeneration != obj.GetGeneration() {
		msg, failed := "its endpoints are not resolved yet", false
		if ready != nil && ready.Status != metav1.ConditionTrue && ready.ObservedGeneration == obj.GetGeneration() {
			msg, failed = ready.Message, true
		}
		return providerOutcome{outcome: outcome{block: providerProblem(fmt.Sprintf("%s is not ready: %s", providerName(dl), msg), failed)}}, nil
	}
	s.provider = resolveProvider(obj)
	return providerOutcome{}, nil
}

// getProvider reads the provider a DeviceLogin references from the cache.
func (r *DeviceLoginReconciler) getProvider(ctx context.Context, dl *authv1alpha1.DeviceLogin) (authv1alpha1.ProviderObject, error) {
	ref := dl.Spec.ProviderRef
	var obj authv1alpha1.ProviderObject
	key := types.NamespacedName{Name: ref.Name}
	if ref.Kind == authv1alpha1.ClusterOAuthProviderKind {
		obj = &authv1alpha1.ClusterOAuthProvider{}
	} else {
		obj = &authv1alpha1.OAuthProvider{}
		key.Namespace = dl.Namespace
	}
	return obj, r.Get(ctx, key, obj)
}

// namespaceAllowed says whether a provider serves DeviceLogins of namespace ns: an OAuthProvider
// only its own (the reference cannot name another), a ClusterOAuthProvider those in its
// allowedNamespaces, or every namespace when the list is empty.
func namespaceAllowed(obj authv1alpha1.ProviderObject, ns string) bool {
	allowed := obj.ProviderSpec().AllowedNamespaces
	return obj.GetNamespace() != "" || len(allowed) == 0 || slices.Contains(allowed, ns)
}

// resolveProvider is the provider as the oauth client uses it: the endpoints its controller
// resolved into status, and the preset's quirks and client authentication.
func resolveProvider(obj authv1alpha1.ProviderObject) *resolvedProvider {
	spec, status := obj.ProviderSpec(), obj.ProviderStatus()
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
	return p
}

// providerBinding identifies the provider instance a grant belongs to: its UID (a provider
// deleted and created again under the same name is another instance) and the endpoints that
// tokens and device codes are sent to (the userinfo endpoint receives the access token). A refresh token, a device code or a revocation goes only
// to the instance that issued it; when the binding changes, a person approves again.
func providerBinding(obj authv1alpha1.ProviderObject) string {
	st := obj.ProviderStatus()
	h := sha256.New()
	for _, v := range []string{string(obj.GetUID()), st.Issuer, st.DeviceAuthorizationURL, st.TokenURL, st.RevocationURL, st.UserinfoURL} {
		h.Write([]byte(v))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// clientConfig is what the oauth client needs for one request. The client secret is read now,
// from the namespace the API contract allows, and never kept.
func (r *DeviceLoginReconciler) clientConfig(ctx context.Context, s *loginScope) (oauth.ClientConfig, error) {
	return r.clientConfigFor(ctx, s.provider)
}

// clientConfigFor is clientConfig for a given provider.
func (r *DeviceLoginReconciler) clientConfigFor(ctx context.Context, p *resolvedProvider) (oauth.ClientConfig, error) {
	secret, err := r.readClientSecretCached(ctx, p.obj)
	if err != nil {
		return oauth.ClientConfig{}, err
	}
	return oauth.ClientConfig{
		Endpoints:    p.endpoints,
		ClientID:     p.obj.ProviderSpec().ClientID,
		ClientSecret: secret,
		AuthStyle:    p.authStyle,
		Quirks:       p.quirks,
		Provider:     providerLabel(p.obj),
	}, nil
}

// providerLabel names a provider in metrics: its kind and name, and its namespace for an
// OAuthProvider. Never anything secret or chosen by a provider.
func providerLabel(obj authv1alpha1.ProviderObject) string {
	if obj.GetNamespace() != "" {
		return string(authv1alpha1.OAuthProviderKind) + "/" + obj.GetNamespace() + "/" + obj.GetName()
	}
	return string(authv1alpha1.ClusterOAuthProviderKind) + "/" + obj.GetName()
}

// flowFor is the oauth client for a provider: a namespaced OAuthProvider, written by a tenant, goes
// through NamespacedFlow, whose HTTP client refuses internal addresses unless the manager allows
// them (--allow-private-namespaced-providers).
func (r *DeviceLoginReconciler) flowFor(p *resolvedProvider) oauth.DeviceFlow {
	if p != nil && p.obj.GetNamespace() != "" && r.NamespacedFlow != nil {
		return r.NamespacedFlow
	}
	return r.Flow
}

// isClientSecretProblem says whether an error from clientConfig is about the client secret itself
// (missing, without the key, refused as one of the operator's own Secrets) rather than a failed
// API request, which is worth a retry.
func isClientSecretProblem(err error) bool {
	var managed *ManagedSecretError
	return IsClientSecretMissing(err) || errors.As(err, &managed)
}
