// Package v1alpha1 holds the auth.devicelogin.dev/v1alpha1 API: DeviceLogin, which asks a person to
// approve an OAuth 2.0 device authorization (RFC 8628) and keeps the resulting token in a Secret, and
// OAuthProvider and ClusterOAuthProvider, which describe the identity provider it asks.
// +kubebuilder:object:generate=true
// +groupName=auth.devicelogin.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is group version used to register these objects.
	GroupVersion = schema.GroupVersion{Group: "auth.devicelogin.dev", Version: "v1alpha1"}

	// SchemeBuilder is used to add go types to the GroupVersionKind scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types in this group-version to the given scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
