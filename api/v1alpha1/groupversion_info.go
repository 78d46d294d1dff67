// Package v1alpha1 holds the auth.devicelogin.dev/v1alpha1 API: DeviceLogin, which asks a person to
// approve an OAuth 2.0 device authorization (RFC 8628) and keeps the resulting token in a Secret, and
// OAuthProvider and ClusterOAuthProvider, which describe the identity provider it asks.
// +kubebuilder:object:generate=true
// +groupName=auth.devicelogin.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is group version used to register these objects.
	GroupVersion = schema.GroupVersion{Group: "auth.devicelogin.dev", Version: "v1alpha1"}

	// SchemeBuilder is used to add go types to the GroupVersionKind scheme.
	SchemeBuilder = &typeRegistry{}

	// AddToScheme adds the types in this group-version to the given scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// typeRegistry is controller-runtime's scheme.Builder (deprecated there, so that API packages
// depend on apimachinery alone) rebuilt on apimachinery's runtime.SchemeBuilder.
type typeRegistry struct{ runtime.SchemeBuilder }

// Register adds objects to the types of this group-version that AddToScheme registers.
func (r *typeRegistry) Register(objects ...runtime.Object) {
	r.SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(GroupVersion, objects...)
		metav1.AddToGroupVersion(s, GroupVersion)
		return nil
	})
}
