package controllers

// Tests of the token Secret step (devicelogin_tokensecret.go): a Secret of the target name that the
// DeviceLogin does not own is never overwritten. Harness: harness_unit_test.go.

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth/oauthtest"
)

func foreignSecret(name string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: uNS, Labels: map[string]string{"app": "other"}},
		Data:       map[string][]byte{"password": []byte("hunter2")},
	}
}

// A Secret of the target name that the DeviceLogin does not own blocks the flow before a user
// code is requested: nobody approves a token that cannot be delivered. Issue 10 item 1.
func TestUnitTokenSecretConflictBeforeTheCode(t *testing.T) {
	h := newUHarness(t, func(s *uSetup) { s.objects = append(s.objects, foreignSecret(uName)) })
	before := h.mustSecret(uName)

	res := h.mustReconcile()
	uCalls(t, h.flow, nil) // no request to the provider
	dl := h.dl()
	c := uExpectReady(t, dl, metav1.ConditionFalse, ReasonSecretConflict)
	if !strings.Contains(c.Message, "Secret "+uName+" exists and is not owned by this DeviceLogin") {
		t.Errorf("Ready message %q", c.Message)
	}
	if dl.Status.UserCode != "" {
		t.Errorf("a user code was published: %q", dl.Status.UserCode)
	}
	if ev := h.eventsWith(ReasonSecretConflict); len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning SecretConflict") {
		t.Errorf("SecretConflict events = %q", h.allEvents())
	}
	if res.RequeueAfter <= 0 || res.RequeueAfter > conflictRecheck {
		t.Errorf("RequeueAfter = %s, want a re-check within %s", res.RequeueAfter, conflictRecheck)
	}
	after := h.mustSecret(uName)
	if after.ResourceVersion != before.ResourceVersion || string(after.Data["password"]) != "hunter2" || len(after.OwnerReferences) != 0 {
		t.Errorf("the foreign Secret was touched: %+v", after)
	}

	// Still there a minute later: no code, no new event, no write.
	h.resetCounts()
	h.clock.Step(conflictRecheck)
	h.mustReconcile()
	uCalls(t, h.flow, nil)
	if w := h.writeCount(); w != 0 || len(h.allEvents()) != 0 {
		t.Errorf("conflict again: writes %v events %q", h.traceSnapshot(), h.allEvents())
	}

	// Gone: the flow starts by itself at the next re-check.
	if err := h.deleteSeen(h.ctx, after); err != nil {
		t.Fatal(err)
	}
	h.clock.Step(conflictRecheck)
	h.mustReconcile()
	uCalls(t, h.flow, map[string]int{oauthtest.MethodRequestDeviceCode: 1})
	uExpectReady(t, h.dl(), metav1.ConditionFalse, ReasonAwaitingApproval)
}

// A foreign Secret that appears after the approval (ours was deleted and someone took the name)
// is never overwritten, and the tokens are kept for when the conflict is resolved.
func TestUnitTokenSecretConflictAfterApproval(t *testing.T) {
	h := newUHarness(t)
	h.authorize(uToken(1, uLife))
	uExpectReady(t, h.dl(), metav1.ConditionTrue, ReasonAuthorized)
	if err := h.deleteSeen(h.ctx, h.mustSecret(uName)); err != nil {
		t.Fatal(err)
	}
	if err := h.raw.Create(h.ctx, foreignSecret(uName)); err != nil {
		t.Fatal(err)
	}
	h.resetCounts()
	h.mustReconcile()
	uExpectReady(t, h.dl(), metav1.ConditionFalse, ReasonSecretConflict)
	if got := string(h.mustSecret(uName).Data["password"]); got != "hunter2" {
		t.Errorf("the foreign Secret was overwritten")
	}
	if got := string(h.mustSecret(uStateName).Data[KeyAccessToken]); got != "ACCESS-TOKEN-1" {
		t.Errorf("state access_token = %q", got)
	}
	uCalls(t, h.flow, nil)

	if err := h.deleteSeen(h.ctx, h.mustSecret(uName)); err != nil {
		t.Fatal(err)
	}
	h.clock.Step(time.Second)
	h.mustReconcile()
	if got := string(h.mustSecret(uName).Data[KeyAccessToken]); got != "ACCESS-TOKEN-1" {
		t.Errorf("token Secret access_token = %q after the conflict went away", got)
	}
	uExpectReady(t, h.dl(), metav1.ConditionTrue, ReasonAuthorized)
}

// The first token Secret is created without reading it from the API server first: a missing
// Secret is the usual case after an approval, and the create says so itself when one exists
// (issue 12). A Secret that exists but is not in the cache is still found by the create's
// refusal, and a foreign one is still left alone (TestUnitTokenSecretConflictAfterApproval).
func TestUnitFirstTokenSecretCostsNoRead(t *testing.T) {
	h := newUHarness(t)
	var gets atomic.Int32
	h.r.APIReader = interceptor.NewClient(h.raw, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if _, ok := obj.(*corev1.Secret); ok {
				gets.Add(1)
			}
			return c.Get(ctx, key, obj, opts...)
		},
	})
	h.mustReconcile() // the user code: the token Secret's name is checked once, before it
	if n := gets.Load(); n != 1 {
		t.Fatalf("issuing the code read %d Secrets from the API server, want 1 (the name check)", n)
	}
	gets.Store(0)
	h.authorize(uToken(1, uLife))
	if n := gets.Load(); n != 0 {
		t.Errorf("storing the first token read %d Secrets from the API server, want 0", n)
	}
	if got := string(h.mustSecret(uName).Data["access_token"]); got != "ACCESS-TOKEN-1" {
		t.Errorf("token Secret holds %q, want ACCESS-TOKEN-1", got)
	}
}

// A token Secret that exists but that the cache does not show (it lost the operator's label) is
// found through the create's refusal and repaired, not reported as a conflict.
func TestUnitTokenSecretMissingFromTheCacheIsRepaired(t *testing.T) {
	h, _ := uAuthorized(t)
	// The cache stops showing the token Secret; the API server still has it, stripped of its data.
	s := h.mustSecret(uName)
	s.Data = map[string][]byte{}
	if err := h.raw.Update(h.ctx, s); err != nil {
		t.Fatal(err)
	}
	h.r.Client = interceptor.NewClient(h.raw, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if _, ok := obj.(*corev1.Secret); ok && key.Name == uName {
				return apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, key.Name)
			}
			return c.Get(ctx, key, obj, opts...)
		},
	})
	// The label-filtered watch shows the Secret leaving the selector as a deletion.
	if !(notOwnWrite{expect: &h.r.expect}).Delete(event.DeleteEvent{Object: s}) {
		t.Fatal("the deletion of a token Secret was filtered out")
	}
	h.mustReconcile()
	uExpectReady(t, h.dl(), metav1.ConditionTrue, ReasonAuthorized)
	if got := string(h.mustSecret(uName).Data["access_token"]); got != "ACCESS-TOKEN-1" {
		t.Errorf("token Secret holds %q after the repair, want ACCESS-TOKEN-1", got)
	}
}
