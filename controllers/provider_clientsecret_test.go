package controllers

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// pSecretValue is a client secret; no message may show it.
const pSecretValue = "CLIENT-SECRET-VALUE"

func pSecret(name string, mutate func(*corev1.Secret)) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a"}, Data: map[string][]byte{"k": []byte(pSecretValue)}}
	if mutate != nil {
		mutate(s)
	}
	return s
}

// pSecretProvider is a namespaced provider with explicit endpoints whose clientSecretRef names
// Secret name, key k.
func pSecretProvider(name string) *authv1alpha1.OAuthProvider {
	return namespacedProvider(authv1alpha1.OAuthProviderSpec{
		DeviceAuthorizationURL: "https://idp.example.com/device", TokenURL: "https://idp.example.com/token", ClientID: "c",
		ClientSecretRef: &authv1alpha1.SecretKeyRef{Name: name, Key: "k"},
	})
}

// TestProviderReadClientSecret: the operator's own Secrets are refused as client secrets with a
// *ManagedSecretError; a missing Secret or key is IsClientSecretMissing; an API error is neither.
func TestProviderReadClientSecret(t *testing.T) {
	ownedByLogin := func(s *corev1.Secret) {
		s.OwnerReferences = []metav1.OwnerReference{{APIVersion: authv1alpha1.GroupVersion.String(), Kind: "DeviceLogin",
			Name: "ci-bot", UID: "u1", Controller: ptr.To(true)}}
	}
	for _, tt := range []struct {
		name    string
		ref     string
		secret  *corev1.Secret
		getErr  error
		managed string // substring of the refusal; "" when not refused
		missing bool
		want    string
	}{
		{name: "a plain Secret is read", ref: "dex-client", secret: pSecret("dex-client", nil), want: pSecretValue},
		{name: "a token Secret (label) is refused", ref: "ci-bot-token",
			secret:  pSecret("ci-bot-token", func(s *corev1.Secret) { s.Labels = map[string]string{authv1alpha1.DeviceLoginLabel: "ci-bot"} }),
			managed: "carries the label auth.devicelogin.dev/devicelogin"},
		{name: "a Secret controlled by a DeviceLogin is refused", ref: "x", secret: pSecret("x", ownedByLogin),
			managed: "is owned by DeviceLogin ci-bot"},
		{name: "a state Secret is refused by its name, before it is read", ref: "other-devicelogin-state",
			getErr: errors.New("must not be read"), managed: "is named like a DeviceLogin's state Secret"},
		{name: "a missing Secret is missing", ref: "nope", missing: true},
		{name: "a missing key is missing", ref: "empty", secret: pSecret("empty", func(s *corev1.Secret) { s.Data = nil }), missing: true},
		{name: "an API error is returned as such", ref: "dex-client", getErr: apierrors.NewServiceUnavailable("etcd is slow")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var extra []client.Object
			if tt.secret != nil {
				extra = append(extra, tt.secret)
			}
			funcs := &interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
				if _, ok := obj.(*corev1.Secret); ok && tt.getErr != nil {
					return tt.getErr
				}
				return c.Get(ctx, key, obj, opts...)
			}}
			h := newPHarness(t, pSecretProvider(tt.ref), funcs, extra...)
			got, err := readClientSecret(context.Background(), h.c, h.obj, "operator-ns")
			var managed *ManagedSecretError
			switch {
			case tt.managed != "":
				if !errors.As(err, &managed) || !strings.Contains(err.Error(), tt.managed) || IsClientSecretMissing(err) {
					t.Fatalf("err = %v; want a *ManagedSecretError saying %q", err, tt.managed)
				}
			case tt.missing:
				if !IsClientSecretMissing(err) || errors.As(err, &managed) {
					t.Fatalf("err = %v; want IsClientSecretMissing", err)
				}
			case tt.getErr != nil:
				if err == nil || IsClientSecretMissing(err) || errors.As(err, &managed) || !apierrors.IsServiceUnavailable(err) {
					t.Fatalf("err = %v; want the API error, wrapped", err)
				}
			default:
				if err != nil || got != tt.want {
					t.Fatalf("readClientSecret = %q, %v", got, err)
				}
			}
			if err != nil && (got != "" || strings.Contains(err.Error(), pSecretValue)) {
				t.Errorf("the secret value leaked: %q, %v", got, err)
			}
		})
	}
}

// TestProviderClientSecretConditions: what the provider reconciler makes of each answer.
func TestProviderClientSecretConditions(t *testing.T) {
	t.Run("a managed Secret: Ready=False ClientSecretRefused, terminal", func(t *testing.T) {
		h := newPHarness(t, pSecretProvider("ci-bot-devicelogin-state"), nil,
			pSecret("ci-bot-devicelogin-state", func(s *corev1.Secret) { s.Labels = map[string]string{authv1alpha1.DeviceLoginLabel: "ci-bot"} }))
		_, err := h.reconcile()
		if !errors.Is(err, reconcile.TerminalError(nil)) {
			t.Errorf("reconcile = %v; want a terminal error", err)
		}
		if c := h.condition(ConditionReady); c.Status != metav1.ConditionFalse || c.Reason != ReasonClientSecretRefused ||
			!strings.Contains(c.Message, "never sends its own Secrets") || strings.Contains(c.Message, pSecretValue) {
			t.Errorf("Ready = %+v; want False ClientSecretRefused", c)
		}
	})
	t.Run("a missing Secret: Ready=False ClientSecretNotFound, looked at again later, no error", func(t *testing.T) {
		h := newPHarness(t, pSecretProvider("dex-client"), nil)
		res, err := h.reconcile()
		if err != nil || res.RequeueAfter != clientSecretRecheck {
			t.Errorf("reconcile = %+v, %v; want a requeue after %s and no error", res, err, clientSecretRecheck)
		}
		if c := h.condition(ConditionReady); c.Status != metav1.ConditionFalse || c.Reason != ReasonClientSecretNotFound {
			t.Errorf("Ready = %+v; want False ClientSecretNotFound", c)
		}
	})
	t.Run("an API error: returned for backoff, Ready untouched", func(t *testing.T) {
		failing := false
		funcs := &interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if _, ok := obj.(*corev1.Secret); ok && failing {
				return apierrors.NewTimeoutError("etcd is slow", 1)
			}
			return c.Get(ctx, key, obj, opts...)
		}}
		h := newPHarness(t, pSecretProvider("dex-client"), funcs, pSecret("dex-client", nil))
		if _, err := h.reconcile(); err != nil {
			t.Fatal(err)
		}
		before := h.condition(ConditionReady)
		failing = true
		h.clock.Step(time.Minute)
		_, err := h.reconcile()
		if err == nil || errors.Is(err, reconcile.TerminalError(nil)) || !apierrors.IsTimeout(err) {
			t.Errorf("reconcile = %v; want the API error", err)
		}
		if c := h.condition(ConditionReady); c != before || c.Status != metav1.ConditionTrue {
			t.Errorf("Ready = %+v; want it untouched (%+v)", c, before)
		}
	})
}
