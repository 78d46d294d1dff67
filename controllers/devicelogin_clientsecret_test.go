package controllers

import (
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// Waiting codes of a confidential client must not cost the API server a read per poll (issue 12):
// the client secret is read once per clientSecretTTL per provider; a failure is not remembered.
func TestUnitClientSecretReadOncePerTTL(t *testing.T) {
	obj := &authv1alpha1.OAuthProvider{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1"},
		Spec: authv1alpha1.OAuthProviderSpec{ClientSecretRef: &authv1alpha1.SecretKeyRef{Name: "s", Key: "k"}}}
	var c clientSecretCache
	reads := 0
	read := func() (string, error) { reads++; return "value", nil }
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	for i := range 30 {
		v, err := c.get(obj, now.Add(time.Duration(i)*time.Second), read)
		if err != nil || v != "value" {
			t.Fatalf("get = %q, %v", v, err)
		}
	}
	if reads != 1 {
		t.Errorf("%d reads in 30s of polling, want 1", reads)
	}
	if _, err := c.get(obj, now.Add(clientSecretTTL), read); err != nil || reads != 2 {
		t.Errorf("after the TTL: reads = %d, err %v; want a fresh read", reads, err)
	}
	failing := func() (string, error) { reads++; return "", errors.New("boom") }
	if _, err := c.get(obj, now.Add(3*clientSecretTTL), failing); err == nil {
		t.Fatal("a failed read was not returned")
	}
	if _, err := c.get(obj, now.Add(3*clientSecretTTL), read); err != nil || reads != 4 {
		t.Errorf("a failure was remembered: reads = %d, err %v", reads, err)
	}
	public := &authv1alpha1.OAuthProvider{ObjectMeta: metav1.ObjectMeta{Name: "pub", UID: "u2"}}
	if v, err := c.get(public, now, failing); v != "" || err != nil {
		t.Errorf("a public client read a secret: %q, %v", v, err)
	}
}
