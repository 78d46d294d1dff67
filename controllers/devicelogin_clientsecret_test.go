package controllers

// Tests of the client secret read (devicelogin_clientsecret.go): once per TTL, and an API error is
// returned while a missing Secret is the provider's problem. Harness: harness_unit_test.go.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth/oauthtest"
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

// uRefusingReader refuses some reads of the API reader.
type uRefusingReader struct {
	client.Reader
	refuse func(key client.ObjectKey, obj client.Object) error
}

func (r uRefusingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if err := r.refuse(key, obj); err != nil {
		return err
	}
	return r.Reader.Get(ctx, key, obj, opts...)
}

// Issue 10 item 7: an API error reading the client secret is returned (the reconcile backs off and
// keeps its pending code); a client secret that does not exist is the provider's problem.
func TestUnitClientSecretReadError(t *testing.T) {
	const secretName = "idp-client"
	withSecret := func(exists bool) func(*uSetup) {
		return func(s *uSetup) {
			s.provider.Spec.ClientSecretRef = &authv1alpha1.SecretKeyRef{Name: secretName, Key: "client-secret"}
			if exists {
				s.objects = append(s.objects, &corev1.Secret{
					ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: uNS},
					Data:       map[string][]byte{"client-secret": []byte("CLIENT-SECRET")},
				})
			}
		}
	}
	refusing := false
	refuse := func(h *uHarness) {
		h.r.APIReader = uRefusingReader{Reader: h.r.APIReader, refuse: func(key client.ObjectKey, _ client.Object) error {
			if refusing && key.Name == secretName {
				return apierrors.NewServiceUnavailable("injected by the test")
			}
			return nil
		}}
	}

	t.Run("API error before the code", func(t *testing.T) {
		h := newUHarness(t, withSecret(true))
		refuse(h)
		refusing = true
		if _, err := h.reconcile(); err == nil {
			t.Error("Reconcile returned no error although the client secret could not be read")
		}
		uCalls(t, h.flow, nil)
		if c := uReady(t, h.dl()); c.Reason == ReasonProviderNotReady {
			t.Errorf("Ready = %s/%s (%q): an API hiccup is not the provider's problem", c.Status, c.Reason, c.Message)
		}
		refusing = false
		var secret string
		h.flow.RequestDeviceCodeFn = func(_ context.Context, cfg oauth.ClientConfig, _ oauth.DeviceRequest) (*oauth.DeviceAuthorization, error) {
			secret = cfg.ClientSecret
			return uCode(1, 5*time.Minute, 5*time.Second), nil
		}
		h.clock.Step(5 * time.Second)
		h.mustReconcile()
		if secret != "CLIENT-SECRET" || h.dl().Status.UserCode != "WDJB-0001" {
			t.Errorf("after the API server recovered: client secret sent %t, userCode %q", secret == "CLIENT-SECRET", h.dl().Status.UserCode)
		}
	})

	t.Run("API error while polling", func(t *testing.T) {
		h := newUHarness(t, withSecret(true))
		refuse(h)
		h.mustReconcile()
		refusing = true
		// Past the time a client secret is reused, so that the poll has to read it again.
		h.stepTo(h.dl().Status.NextPollTime.Add(clientSecretTTL))
		if _, err := h.reconcile(); err == nil {
			t.Error("Reconcile returned no error although the client secret could not be read")
		}
		uCalls(t, h.flow, map[string]int{oauthtest.MethodRequestDeviceCode: 1})
		dl := h.dl()
		uExpectReady(t, dl, metav1.ConditionFalse, ReasonAwaitingApproval)
		if dl.Status.UserCode != "WDJB-0001" || string(h.mustSecret(uStateName).Data[keyDeviceCode]) != "DEVICE-CODE-1" {
			t.Errorf("the pending code was lost: userCode %q", dl.Status.UserCode)
		}
		refusing = false
		h.clock.Step(5 * time.Second)
		h.mustReconcile()
		uCalls(t, h.flow, map[string]int{oauthtest.MethodRequestDeviceCode: 1, oauthtest.MethodPollToken: 1})
	})

	t.Run("not found", func(t *testing.T) {
		h := newUHarness(t, withSecret(false))
		h.mustReconcile()
		uCalls(t, h.flow, nil)
		c := uExpectReady(t, h.dl(), metav1.ConditionFalse, ReasonProviderNotReady)
		if !strings.Contains(c.Message, "client secret "+uNS+"/"+secretName+" not found") {
			t.Errorf("Ready message %q does not name the missing client secret", c.Message)
		}
		if ev := h.eventsWith(ReasonProviderNotReady); len(ev) != 1 {
			t.Errorf("ProviderNotReady events = %q, want one", h.allEvents())
		}
	})
}
