package controllers

import (
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// Issue 9 item 3: the Secret cache keeps the data of the Secrets a DeviceLogin controls only;
// anyone can put the operator's label on a Secret, and that must not cost the operator its data.
func TestUnitCacheTrimForeignSecret(t *testing.T) {
	ref := func(apiVersion, kind string, controller bool) metav1.OwnerReference {
		return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: "owner", UID: "owner-uid", Controller: ptr.To(controller)}
	}
	tests := []struct {
		name     string
		owners   []metav1.OwnerReference
		keepData bool
	}{
		{name: "controlled by a DeviceLogin", owners: []metav1.OwnerReference{ref(authv1alpha1.GroupVersion.String(), "DeviceLogin", true)}, keepData: true},
		{name: "no owner"},
		{name: "controlled by another kind", owners: []metav1.OwnerReference{ref("apps/v1", "Deployment", true)}},
		{name: "a DeviceLogin of another group", owners: []metav1.OwnerReference{ref("example.com/v1", "DeviceLogin", true)}},
		{name: "owned by a DeviceLogin, not controlled", owners: []metav1.OwnerReference{ref(authv1alpha1.GroupVersion.String(), "DeviceLogin", false)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{
					Name: "s", Namespace: uNS, Labels: map[string]string{authv1alpha1.DeviceLoginLabel: "x"},
					OwnerReferences: tt.owners,
					ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}},
				},
				Data:       map[string][]byte{"payload": make([]byte, 100<<10)},
				StringData: map[string]string{"more": "x"},
			}
			out, err := TrimForeignSecret(in)
			if err != nil {
				t.Fatal(err)
			}
			s, ok := out.(*corev1.Secret)
			if !ok {
				t.Fatalf("TrimForeignSecret returned %T", out)
			}
			if s.ManagedFields != nil {
				t.Errorf("managed fields kept: %v", s.ManagedFields)
			}
			if got := len(s.Data["payload"]) == 100<<10; got != tt.keepData {
				t.Errorf("data kept = %t, want %t", got, tt.keepData)
			}
			if !tt.keepData && (s.Data != nil || s.StringData != nil) {
				t.Errorf("data left of a foreign Secret: %d key(s), stringData %v", len(s.Data), s.StringData)
			}
			if s.Name != "s" || s.Labels[authv1alpha1.DeviceLoginLabel] != "x" || len(s.OwnerReferences) != len(tt.owners) {
				t.Errorf("metadata changed: %+v", s.ObjectMeta)
			}
		})
	}

	t.Run("not a Secret", func(t *testing.T) {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d",
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}}
		out, err := TrimForeignSecret(d)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := out.(*appsv1.Deployment); !ok || got.ManagedFields != nil || got.Name != "d" {
			t.Errorf("TrimForeignSecret(Deployment) = %+v", out)
		}
	})
}

// SecretCacheOptions selects the operator's label and trims with TrimForeignSecret.
func TestUnitCacheSecretOptions(t *testing.T) {
	o := SecretCacheOptions()
	if o.Label == nil || o.Label.String() != authv1alpha1.DeviceLoginLabel {
		t.Errorf("label selector = %v, want %s (exists)", o.Label, authv1alpha1.DeviceLoginLabel)
	}
	if o.Transform == nil {
		t.Fatal("no transform: the cache would keep every labelled Secret's data")
	}
	out, err := o.Transform(&corev1.Secret{Data: map[string][]byte{"k": []byte("v")}})
	if err != nil || out.(*corev1.Secret).Data != nil {
		t.Errorf("the transform kept the data of a Secret nobody controls: %v, %v", out, err)
	}
}

// Issue 12: managed fields and kubectl's last-applied copy of the spec are trimmed from every cached
// object, DeviceLogins included; the annotation stays on kinds the operator may Update.
func TestUnitCacheTrimCachedObject(t *testing.T) {
	meta := func() metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: "o", Namespace: uNS,
			Annotations:   map[string]string{corev1.LastAppliedConfigAnnotation: `{"spec":{}}`, authv1alpha1.RefreshAnnotation: "1"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}}}
	}
	tests := []struct {
		obj             client.Object
		keepLastApplied bool
	}{
		{obj: &authv1alpha1.DeviceLogin{ObjectMeta: meta()}},
		{obj: &authv1alpha1.OAuthProvider{ObjectMeta: meta()}},
		{obj: &authv1alpha1.ClusterOAuthProvider{ObjectMeta: meta()}},
		{obj: &appsv1.Deployment{ObjectMeta: meta()}, keepLastApplied: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%T", tt.obj), func(t *testing.T) {
			out, err := TrimCachedObject(tt.obj)
			if err != nil {
				t.Fatal(err)
			}
			o := out.(client.Object)
			if o.GetManagedFields() != nil {
				t.Errorf("managed fields kept: %v", o.GetManagedFields())
			}
			if _, kept := o.GetAnnotations()[corev1.LastAppliedConfigAnnotation]; kept != tt.keepLastApplied {
				t.Errorf("last-applied annotation kept = %t, want %t", kept, tt.keepLastApplied)
			}
			if o.GetAnnotations()[authv1alpha1.RefreshAnnotation] != "1" || o.GetName() != "o" {
				t.Errorf("other metadata changed: annotations %v, name %q", o.GetAnnotations(), o.GetName())
			}
		})
	}
	t.Run("not an object", func(t *testing.T) {
		if out, err := TrimCachedObject("x"); err != nil || out != "x" {
			t.Errorf("TrimCachedObject(string) = %v, %v", out, err)
		}
	})
}

// The manager's cache trims every kind (DefaultTransform) and keeps Secrets to the operator's own.
func TestUnitCacheOptions(t *testing.T) {
	o := CacheOptions(map[string]cache.Config{"team-a": {}})
	if o.DefaultTransform == nil {
		t.Fatal("no default transform: DeviceLogins would be cached with their managed fields")
	}
	dl := &authv1alpha1.DeviceLogin{ObjectMeta: metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}}
	if out, err := o.DefaultTransform(dl); err != nil || out.(*authv1alpha1.DeviceLogin).ManagedFields != nil {
		t.Errorf("the default transform kept a DeviceLogin's managed fields: %v", err)
	}
	if _, ok := o.DefaultNamespaces["team-a"]; !ok || len(o.DefaultNamespaces) != 1 {
		t.Errorf("namespaces = %v, want team-a", o.DefaultNamespaces)
	}
	var secret cache.ByObject
	for obj, by := range o.ByObject {
		if _, ok := obj.(*corev1.Secret); ok {
			secret = by
		}
	}
	if secret.Label == nil || secret.Transform == nil {
		t.Errorf("Secrets are not restricted to the operator's label and trimmed: %+v", secret)
	}
}
