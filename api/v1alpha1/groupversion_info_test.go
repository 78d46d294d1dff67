package v1alpha1

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
)

func TestAddToSchemeRegistersEveryKind(t *testing.T) {
	s := runtime.NewScheme()
	if err := AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{
		"DeviceLogin", "DeviceLoginList", "OAuthProvider", "OAuthProviderList",
		"ClusterOAuthProvider", "ClusterOAuthProviderList",
		// metav1.AddToGroupVersion's option types, which clients need to list and watch.
		"ListOptions", "WatchEvent",
	} {
		if !s.Recognizes(GroupVersion.WithKind(kind)) {
			t.Errorf("AddToScheme does not register %s", GroupVersion.WithKind(kind))
		}
	}
	gvks, _, err := s.ObjectKinds(&DeviceLogin{})
	if err != nil || len(gvks) != 1 || gvks[0] != GroupVersion.WithKind("DeviceLogin") {
		t.Errorf("ObjectKinds(DeviceLogin) = %v, %v", gvks, err)
	}
}
