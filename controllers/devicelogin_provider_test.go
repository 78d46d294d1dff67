package controllers

// Tests of the provider step (devicelogin_provider.go): a DeviceLogin whose provider is not Ready
// waits without asking it anything, warns only when the provider failed, and drops a code that
// expired meanwhile. Harness: harness_unit_test.go.

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth/oauthtest"
)

// uProviderFailed makes the provider Ready=False for its generation, as its controller does when
// discovery fails.
func uProviderFailed(p *authv1alpha1.OAuthProvider) {
	p.Status.Conditions[0].Status = metav1.ConditionFalse
	p.Status.Conditions[0].Reason = ReasonDiscoveryFailed
	p.Status.Conditions[0].Message = "discovery at https://idp.example.com failed: HTTP 500"
}

// Issue 10 item 3: a pending code whose provider is not usable wakes at the code's expiry (the
// provider's watch brings it back sooner), never every second, and asks the provider nothing.
func TestUnitProviderNotReadyPendingCodeWaits(t *testing.T) {
	for name, mutate := range map[string]func(*authv1alpha1.OAuthProvider){
		"Ready=False":            uProviderFailed,
		"no Ready condition yet": func(p *authv1alpha1.OAuthProvider) { p.Status.Conditions = nil },
	} {
		t.Run(name, func(t *testing.T) {
			h := newUHarness(t)
			h.mustReconcile()
			dl := h.dl()
			expires := dl.Status.UserCodeExpiresAt.Time
			h.updateProvider(mutate)
			h.resetCounts()
			h.stepTo(dl.Status.NextPollTime.Add(2 * time.Second)) // a poll would be due
			for range 5 {
				res := h.mustReconcile()
				if want := expires.Sub(h.clock.Now()); res.RequeueAfter != want {
					t.Errorf("RequeueAfter = %s, want %s (the code's expiry)", res.RequeueAfter, want)
				}
				h.clock.Step(time.Second)
			}
			uCalls(t, h.flow, nil)
			if got := h.dl().Status.UserCode; got != "WDJB-0001" {
				t.Errorf("userCode = %q: the pending code must wait for the provider", got)
			}
			if got := string(h.mustSecret(uStateName).Data[keyDeviceCode]); got != "DEVICE-CODE-1" {
				t.Errorf("state device_code = %q", got)
			}
			// Expiry without a provider: the code goes, still without asking the provider anything.
			h.stepTo(expires)
			h.mustReconcile()
			uCalls(t, h.flow, nil)
			if got := h.dl().Status.UserCode; got != "" {
				t.Errorf("userCode = %q after its expiry", got)
			}
		})
	}
}

// Issue 10 item 16: a provider that is still being resolved is not worth a warning; one that
// failed for its generation is, once.
func TestUnitProviderNotReadyEvent(t *testing.T) {
	h := newUHarness(t, func(s *uSetup) { s.provider.Status = authv1alpha1.OAuthProviderStatus{} })
	for range 2 {
		h.mustReconcile()
		h.clock.Step(time.Second)
	}
	c := uExpectReady(t, h.dl(), metav1.ConditionFalse, ReasonProviderNotReady)
	if !strings.Contains(c.Message, "not resolved yet") {
		t.Errorf("Ready message %q", c.Message)
	}
	if ev := h.eventsWith(ReasonProviderNotReady); len(ev) != 0 {
		t.Errorf("ProviderNotReady events while the provider is being resolved: %q", ev)
	}

	h.updateProvider(func(p *authv1alpha1.OAuthProvider) {
		p.Status = *uReadyProvider().Status.DeepCopy()
		uProviderFailed(p)
	})
	for range 2 {
		h.mustReconcile()
		h.clock.Step(time.Second)
	}
	ev := h.eventsWith(ReasonProviderNotReady)
	if len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning ProviderNotReady") || !strings.Contains(ev[0], "HTTP 500") {
		t.Errorf("ProviderNotReady events once the provider failed = %q, want one warning", ev)
	}
	uCalls(t, h.flow, nil)
}

// A pending code that expires while its provider is not Ready is dropped, and a new one is asked
// for once the provider is back; nothing panics.
func TestUnitProviderNotReadyDropsExpiredCode(t *testing.T) {
	h := newUHarness(t)
	codes := 0
	h.flow.RequestDeviceCodeFn = func(context.Context, oauth.ClientConfig, oauth.DeviceRequest) (*oauth.DeviceAuthorization, error) {
		codes++
		return uCode(codes, time.Minute, 5*time.Second), nil
	}
	h.mustReconcile()
	h.updateProvider(uProviderFailed)
	h.clock.Step(2 * time.Minute) // the code expired while the provider was down
	h.mustReconcile()
	dl := h.dl()
	if dl.Status.UserCode != "" {
		t.Fatalf("the expired code %s is still published", dl.Status.UserCode)
	}
	if c := uReady(t, dl); c.Reason != ReasonProviderNotReady {
		t.Fatalf("Ready = %+v; want ProviderNotReady", c)
	}
	h.updateProvider(func(p *authv1alpha1.OAuthProvider) { p.Status = *uReadyProvider().Status.DeepCopy() })
	h.mustReconcile()
	dl = h.dl()
	if dl.Status.UserCode == "" || h.flow.Calls(oauthtest.MethodRequestDeviceCode) != 2 {
		t.Fatalf("no new code once the provider is back (code %q, %d requests)", dl.Status.UserCode, h.flow.Calls(oauthtest.MethodRequestDeviceCode))
	}
}
