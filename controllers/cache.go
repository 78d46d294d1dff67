package controllers

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

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
