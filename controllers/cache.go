package controllers

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// CacheOptions are the manager's cache options: namespaces as --watch-namespaces says (nil: every
// namespace), TrimCachedObject for every kind, and SecretCacheOptions for Secrets.
func CacheOptions(namespaces map[string]cache.Config) cache.Options {
	return cache.Options{
		DefaultNamespaces: namespaces,
		DefaultTransform:  TrimCachedObject,
		ByObject:          map[client.Object]cache.ByObject{&corev1.Secret{}: SecretCacheOptions()},
	}
}

// TrimCachedObject is the cache transform of every kind but Secrets (TrimForeignSecret): managed
// fields go from every object, and kubectl's last-applied-configuration annotation (a second copy of
// the spec) from the operator's own kinds. Both are the API server's bookkeeping, which no controller
// reads; with a thousand DeviceLogins they would be most of the cache. The annotation is dropped only
// from kinds the operator writes by patch (a merge patch computed from two trimmed copies leaves it
// alone on the server); a kind written with Update from the cache must keep it, or the Update would
// delete it.
func TrimCachedObject(obj any) (any, error) {
	o, ok := obj.(metav1.Object)
	if !ok {
		return obj, nil
	}
	o.SetManagedFields(nil)
	switch obj.(type) {
	case *authv1alpha1.DeviceLogin, *authv1alpha1.OAuthProvider, *authv1alpha1.ClusterOAuthProvider:
		if a := o.GetAnnotations(); a != nil {
			delete(a, corev1.LastAppliedConfigAnnotation)
			if len(a) == 0 {
				o.SetAnnotations(nil)
			}
		}
	}
	return obj, nil
}

// SecretCacheOptions are the manager's cache options for Secrets: only those that carry the
// operator's label are watched, and of those only the ones a DeviceLogin controls keep their data.
// Anyone who can create a Secret can put the label on it; such a Secret costs the cache its
// metadata, never its data, so nobody can fill the operator's memory with labelled Secrets.
func SecretCacheOptions() cache.ByObject {
	owned, err := labels.NewRequirement(authv1alpha1.DeviceLoginLabel, selection.Exists, nil)
	if err != nil {
		panic(err) // a constant selector
	}
	return cache.ByObject{
		Label:     labels.NewSelector().Add(*owned),
		Transform: TrimForeignSecret,
	}
}

// TrimForeignSecret is the cache transform of Secrets: managed fields go from every Secret, and
// data from every Secret that no DeviceLogin controls. A Secret whose owner reference names a
// DeviceLogin that does not exist is deleted by the garbage collector.
func TrimForeignSecret(obj any) (any, error) {
	s, ok := obj.(*corev1.Secret)
	if !ok {
		return cache.TransformStripManagedFields()(obj)
	}
	s.ManagedFields = nil
	if !controlledByDeviceLogin(s) {
		s.Data, s.StringData = nil, nil
	}
	return s, nil
}

func controlledByDeviceLogin(obj metav1.Object) bool {
	ref := metav1.GetControllerOf(obj)
	return ref != nil && ref.Kind == "DeviceLogin" && ref.APIVersion == authv1alpha1.GroupVersion.String()
}
