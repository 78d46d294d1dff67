package controllers

// Tests of the spec step (devicelogin_spec.go): specs the API server should have refused, broken
// templates, and what a spec change does. Harness: harness_unit_test.go.

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth/oauthtest"
)

// Issue 9 items 4 and 7: a DeviceLogin the API server stored before its rules existed is refused
// with InvalidSpec, before the provider is asked anything and before any Secret is written.
func TestUnitSpecInvalid(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*authv1alpha1.DeviceLogin)
		want   string
	}{
		{"name over 63 characters", func(dl *authv1alpha1.DeviceLogin) { dl.Name = strings.Repeat("a", 64) },
			"is longer than 63 characters"},
		{"secretName of a state Secret", func(dl *authv1alpha1.DeviceLogin) { dl.Spec.SecretName = "other-devicelogin-state" },
			"secretName other-devicelogin-state ends in -devicelogin-state"},
		{"service-account token type", func(dl *authv1alpha1.DeviceLogin) {
			dl.Spec.SecretTemplate = &authv1alpha1.SecretTemplate{Type: string(corev1.SecretTypeServiceAccountToken)}
		}, "secretTemplate.type kubernetes.io/service-account-token is not allowed"},
		{"service-account annotation", func(dl *authv1alpha1.DeviceLogin) {
			dl.Spec.SecretTemplate = &authv1alpha1.SecretTemplate{Annotations: map[string]string{corev1.ServiceAccountNameKey: "default"}}
		}, "secretTemplate.annotations may not set kubernetes.io/service-account.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newUHarness(t, func(s *uSetup) { tt.mutate(s.dl) })
			want := uDeviceLogin()
			tt.mutate(want)
			key := client.ObjectKeyFromObject(want)
			for range 2 {
				if _, err := h.reconcileKey(key); err != nil {
					t.Fatalf("Reconcile: %v", err)
				}
				h.clock.Step(time.Second)
			}
			dl := &authv1alpha1.DeviceLogin{}
			if err := h.raw.Get(h.ctx, key, dl); err != nil {
				t.Fatal(err)
			}
			c := uExpectReady(t, dl, metav1.ConditionFalse, ReasonInvalidSpec)
			if !strings.Contains(c.Message, tt.want) {
				t.Errorf("Ready message %q does not contain %q", c.Message, tt.want)
			}
			uCalls(t, h.flow, nil)
			var secrets corev1.SecretList
			if err := h.raw.List(h.ctx, &secrets, client.InNamespace(uNS)); err != nil {
				t.Fatal(err)
			}
			if len(secrets.Items) != 0 {
				t.Errorf("%d Secret(s) written for an invalid spec", len(secrets.Items))
			}
			if ev := h.eventsWith(ReasonInvalidSpec); len(ev) != 1 {
				t.Errorf("InvalidSpec events = %q, want one", h.allEvents())
			}
		})
	}

	t.Run("type changed after approval", func(t *testing.T) {
		h, _ := uAuthorized(t)
		h.updateDL(func(dl *authv1alpha1.DeviceLogin) {
			dl.Spec.SecretTemplate = &authv1alpha1.SecretTemplate{Type: string(corev1.SecretTypeServiceAccountToken),
				Annotations: map[string]string{corev1.ServiceAccountNameKey: "default"}}
			dl.Generation++
		})
		h.clock.Step(time.Second)
		h.mustReconcile()
		uExpectReady(t, h.dl(), metav1.ConditionFalse, ReasonInvalidSpec)
		if sec := h.mustSecret(uName); sec.Type != corev1.SecretTypeOpaque || string(sec.Data[KeyAccessToken]) != "ACCESS-TOKEN-1" {
			t.Errorf("token Secret type %q: the Secret must stay as it was", sec.Type)
		}
		uCalls(t, h.flow, nil)
	})
}

// A secretTemplate that does not parse or render (or is unbounded) is InvalidSpec: the token
// Secret is left as it was and the provider is asked nothing.
func TestUnitSpecInvalidTemplate(t *testing.T) {
	tests := []struct {
		name, tmpl, wantMsg string
	}{
		{"does not render", "{{ b64dec .AccessToken }}", "secretTemplate.data[broken] does not render"},
		{"does not parse", "{{ .AccessToken ", "secretTemplate.data[broken] does not parse"},
		{"unknown field", "{{ .Nope }}", "secretTemplate.data[broken] does not parse"},
		{"unbounded builtin", `{{$a := printf "%01000000d" 0}}{{$a = print $a $a}}`, "secretTemplate.data[broken] does not parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := uAuthorized(t)
			before := h.mustSecret(uName)
			h.updateDL(func(dl *authv1alpha1.DeviceLogin) {
				dl.Spec.SecretTemplate = &authv1alpha1.SecretTemplate{Data: map[string]string{"broken": tt.tmpl}}
				dl.Generation++
			})
			h.clock.Step(time.Second)
			h.mustReconcile()

			dl := h.dl()
			c := uExpectReady(t, dl, metav1.ConditionFalse, ReasonInvalidSpec)
			if !strings.Contains(c.Message, tt.wantMsg) {
				t.Errorf("Ready message %q does not contain %q", c.Message, tt.wantMsg)
			}
			if dl.Status.ObservedGeneration != 2 {
				t.Errorf("observedGeneration = %d", dl.Status.ObservedGeneration)
			}
			after := h.mustSecret(uName)
			if after.ResourceVersion != before.ResourceVersion || string(after.Data[KeyAccessToken]) != "ACCESS-TOKEN-1" || after.Data["broken"] != nil {
				t.Errorf("token Secret changed: %v", after.Data)
			}
			if ev := h.eventsWith(ReasonInvalidSpec); len(ev) != 1 {
				t.Errorf("InvalidSpec events = %q", h.allEvents())
			}
			uCalls(t, h.flow, nil)
			h.assertNoSecretsLeaked()
		})
	}
}

// Changed scopes ask for a new code while the old token is served unchanged and not refreshed; a
// changed secretTemplate rewrites the token Secret without a new code.
func TestUnitSpecChanges(t *testing.T) {
	t.Run("scopes: a new code", func(t *testing.T) {
		h, _ := uAuthorized(t)
		tokenRV := h.mustSecret(uName).ResourceVersion
		var req oauth.DeviceRequest
		h.flow.RequestDeviceCodeFn = func(_ context.Context, _ oauth.ClientConfig, r oauth.DeviceRequest) (*oauth.DeviceAuthorization, error) {
			req = r
			return uCode(2, 5*time.Minute, 5*time.Second), nil
		}
		h.updateDL(func(dl *authv1alpha1.DeviceLogin) {
			dl.Spec.Scopes = append(slices.Clone(uScopes), "groups")
			dl.Generation++
		})
		h.clock.Step(time.Second)
		h.mustReconcile()

		uCalls(t, h.flow, map[string]int{oauthtest.MethodRequestDeviceCode: 1})
		if !slices.Contains(req.Scopes, "groups") {
			t.Errorf("requested scopes %v", req.Scopes)
		}
		dl := h.dl()
		if dl.Status.UserCode != "WDJB-0002" || dl.Status.ObservedGeneration != 2 {
			t.Errorf("userCode %q observedGeneration %d", dl.Status.UserCode, dl.Status.ObservedGeneration)
		}
		uExpectReady(t, dl, metav1.ConditionTrue, ReasonReauthorizationRequired)
		if sec := h.mustSecret(uName); sec.ResourceVersion != tokenRV || string(sec.Data[KeyAccessToken]) != "ACCESS-TOKEN-1" {
			t.Error("the old token Secret was changed while the new grant is pending")
		}
		if len(h.eventsWith(EventUserCodeIssued)) != 1 {
			t.Errorf("events %q", h.allEvents())
		}
		// No refresh of the old grant while the new one is pending.
		h.stepTo(h.nextPollAt())
		h.mustReconcile()
		if h.flow.Calls(oauthtest.MethodRefresh) != 0 {
			t.Error("refreshed the old grant")
		}
	})

	t.Run("secretTemplate: no new code, Secret rewritten", func(t *testing.T) {
		h, _ := uAuthorized(t)
		h.updateDL(func(dl *authv1alpha1.DeviceLogin) {
			dl.Spec.SecretTemplate = &authv1alpha1.SecretTemplate{
				Labels: map[string]string{"team": "a"},
				Data:   map[string]string{"authorization": "{{ .TokenType }} {{ .AccessToken }}"},
			}
			dl.Generation++
		})
		h.clock.Step(time.Second)
		h.mustReconcile()

		uCalls(t, h.flow, nil)
		sec := h.mustSecret(uName)
		if string(sec.Data["authorization"]) != "Bearer ACCESS-TOKEN-1" || sec.Labels["team"] != "a" ||
			sec.Labels[authv1alpha1.DeviceLoginLabel] != uName {
			t.Errorf("token Secret data %q labels %v", sec.Data["authorization"], sec.Labels)
		}
		dl := h.dl()
		uExpectReady(t, dl, metav1.ConditionTrue, ReasonAuthorized)
		if dl.Status.ObservedGeneration != 2 || dl.Status.UserCode != "" {
			t.Errorf("observedGeneration %d userCode %q", dl.Status.ObservedGeneration, dl.Status.UserCode)
		}
		if tr := h.traceSnapshot(); !slices.Contains(tr, "Update Secret/"+uName) || slices.Contains(tr, "Update Secret/"+uStateName) {
			t.Errorf("writes = %v, want the token Secret updated and the state Secret left alone", tr)
		}
	})
}
