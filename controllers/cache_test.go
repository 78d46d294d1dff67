package controllers

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

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
