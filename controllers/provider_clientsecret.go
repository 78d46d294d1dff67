package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// managedStateSuffix ends the name of every DeviceLogin's state Secret.
const managedStateSuffix = "-devicelogin-state"

// ManagedSecretError says that a clientSecretRef names a Secret the operator manages (a
// DeviceLogin's token or state Secret): its value is never sent to a provider, whose URLs the
// provider's author chooses. Match it with errors.As.
type ManagedSecretError struct {
	// Namespace and Name of the refused Secret.
	Namespace, Name string
	// Why says what marks the Secret as the operator's.
	Why string
}

// Error names the Secret and why it is refused; it holds no secret value.
func (e *ManagedSecretError) Error() string {
	return fmt.Sprintf("clientSecretRef names Secret %s/%s, which %s: the operator never sends its own Secrets to a provider; point clientSecretRef at a Secret that holds the client secret",
		e.Namespace, e.Name, e.Why)
}

// ClientSecretMissingError says that the Secret a clientSecretRef names, or its key, does not
// exist (or the key is empty). It is a state to report, not a failure to retry at once.
type ClientSecretMissingError struct {
	// Namespace, Name and Key of the reference.
	Namespace, Name, Key string
	// SecretExists is true when the Secret exists but lacks the key.
	SecretExists bool
}

// Error names what is missing.
func (e *ClientSecretMissingError) Error() string {
	if e.SecretExists {
		return fmt.Sprintf("client secret %s/%s has no key %q (or it is empty)", e.Namespace, e.Name, e.Key)
	}
	return fmt.Sprintf("client secret %s/%s not found", e.Namespace, e.Name)
}

// IsClientSecretMissing reports whether err says that the client secret's Secret or key does not
// exist. Errors from readClientSecret that are neither this nor a *ManagedSecretError are API
// errors worth returning for a retry with backoff.
func IsClientSecretMissing(err error) bool {
	var m *ClientSecretMissingError
	return errors.As(err, &m)
}

// clientSecretNamespace is where a provider's clientSecretRef points: an OAuthProvider's own
// namespace, or the cluster-resource namespace for a ClusterOAuthProvider.
func clientSecretNamespace(obj authv1alpha1.ProviderObject, clusterResourceNamespace string) string {
	if obj.GetNamespace() != "" {
		return obj.GetNamespace()
	}
	return clusterResourceNamespace
}

// readClientSecret returns the provider's client secret, or "" when it has none. Errors:
// *ClientSecretMissingError when the Secret or key is absent, *ManagedSecretError when the Secret
// is one of the operator's own, otherwise the API error, wrapped.
func readClientSecret(ctx context.Context, reader client.Reader, obj authv1alpha1.ProviderObject, clusterNS string) (string, error) {
	ref := obj.ProviderSpec().ClientSecretRef
	if ref == nil {
		return "", nil
	}
	ns := clientSecretNamespace(obj, clusterNS)
	if strings.HasSuffix(ref.Name, managedStateSuffix) {
		// Refused before it is read: the name alone says it is (or will be) a login's state.
		return "", &ManagedSecretError{Namespace: ns, Name: ref.Name, Why: "is named like a DeviceLogin's state Secret (*" + managedStateSuffix + ")"}
	}
	var s corev1.Secret
	if err := reader.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref.Name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return "", &ClientSecretMissingError{Namespace: ns, Name: ref.Name, Key: ref.Key}
		}
		return "", fmt.Errorf("reading client secret %s/%s: %w", ns, ref.Name, err)
	}
	if why := managedBy(&s); why != "" {
		return "", &ManagedSecretError{Namespace: ns, Name: ref.Name, Why: why}
	}
	v := s.Data[ref.Key]
	if len(v) == 0 {
		return "", &ClientSecretMissingError{Namespace: ns, Name: ref.Name, Key: ref.Key, SecretExists: true}
	}
	return string(v), nil
}

// managedBy says what marks s as a Secret the operator manages, or "" when nothing does.
func managedBy(s *corev1.Secret) string {
	if _, ok := s.Labels[authv1alpha1.DeviceLoginLabel]; ok {
		return "carries the label " + authv1alpha1.DeviceLoginLabel
	}
	for _, ref := range s.OwnerReferences {
		if ref.Kind == "DeviceLogin" {
			return "is owned by DeviceLogin " + ref.Name
		}
	}
	return ""
}
