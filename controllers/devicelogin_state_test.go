package controllers

// Tests of the state Secret (devicelogin_state.go): writes that fail or race. Ready never claims a
// token Secret that could not be written, the state Secret is written optimistically, so that a
// stale reconcile never overwrites newer tokens, and a refused write at approval loses nothing.
// Harness: harness_unit_test.go.

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth/oauthtest"
)

// Issue 10 item 6: when the token Secret cannot be written, Ready is Unknown/ReconcileError (not
// True), the reconcile returns the error, and all is well once the write goes through.
func TestUnitStateTokenSecretWriteFailureIsNotReady(t *testing.T) {
	tests := []struct {
		name  string
		verb  string
		setup func(h *uHarness)
	}{
		{name: "update after a refresh", verb: "Update", setup: func(h *uHarness) {
			h.flow.RefreshFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) { return uToken(2, uLife), nil }
			h.stepTo(h.dl().Status.NextRefreshTime.Time)
		}},
		{name: "create after a deletion", verb: "Create", setup: func(h *uHarness) {
			if err := h.deleteSeen(h.ctx, h.mustSecret(uName)); err != nil {
				h.t.Fatal(err)
			}
			h.clock.Step(time.Second)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := uAuthorized(t)
			tt.setup(h)
			want := "ACCESS-TOKEN-1"
			if h.flow.RefreshFn != nil {
				want = "ACCESS-TOKEN-2"
			}
			h.setRefuse(func(verb string, obj client.Object) error {
				if _, ok := obj.(*corev1.Secret); ok && obj.GetName() == uName && verb == tt.verb {
					return apierrors.NewInternalError(errors.New("etcdserver: request timed out"))
				}
				return nil
			})
			if _, err := h.reconcile(); err == nil {
				t.Error("Reconcile returned no error although the token Secret could not be written")
			}
			c := uExpectReady(t, h.dl(), metav1.ConditionUnknown, ReasonReconcileError)
			if !strings.Contains(c.Message, "Secret "+uName) {
				t.Errorf("Ready message %q does not name the Secret", c.Message)
			}
			if got := string(h.mustSecret(uStateName).Data[KeyAccessToken]); got != want {
				t.Errorf("state access_token = %q, want %q", got, want)
			}

			h.setRefuse(nil)
			h.clock.Step(time.Second)
			h.mustReconcile()
			uExpectReady(t, h.dl(), metav1.ConditionTrue, ReasonAuthorized)
			if got := string(h.mustSecret(uName).Data[KeyAccessToken]); got != want {
				t.Errorf("token Secret access_token = %q, want %q", got, want)
			}
			h.assertNoSecretsLeaked()
		})
	}
}

// Issue 10 item 11: the state Secret is written with the resourceVersion it was read at. Another
// writer (a new leader) stores something between this reconcile's read and its write: newer
// tokens win over this reconcile's; an unrelated change (the refresh token cleared, the same
// access token) has this reconcile's rotated tokens applied on top.
func TestUnitStateOptimisticWrite(t *testing.T) {
	tests := []struct {
		name string
		// other is what the other writer does to the stored state and to the DeviceLogin's status.
		other func(h *uHarness, data map[string][]byte, st *metav1.Time)
		// wantAccess and wantRefresh are stored once the dust settles.
		wantAccess, wantRefresh string
	}{
		{name: "newer tokens win", other: func(h *uHarness, data map[string][]byte, next *metav1.Time) {
			data[KeyAccessToken], data[KeyRefreshToken] = []byte("ACCESS-TOKEN-9"), []byte("REFRESH-TOKEN-9")
			data[keyIssuedAt] = []byte(h.clock.Now().UTC().Format(time.RFC3339Nano))
			data[KeyExpiry] = []byte(h.clock.Now().Add(uLife).UTC().Format(time.RFC3339Nano))
			*next = metav1.NewTime(h.clock.Now().Add(40 * time.Minute).Truncate(time.Second))
		}, wantAccess: "ACCESS-TOKEN-9", wantRefresh: "REFRESH-TOKEN-9"},
		{name: "an unrelated change is merged", other: func(_ *uHarness, data map[string][]byte, _ *metav1.Time) {
			delete(data, KeyRefreshToken)
		}, wantAccess: "ACCESS-TOKEN-2", wantRefresh: "REFRESH-TOKEN-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := uAuthorized(t)
			var sent []string
			h.flow.RefreshFn = func(_ context.Context, _ oauth.ClientConfig, rt string) (*oauth.Token, error) {
				sent = append(sent, rt)
				tok := uToken(len(sent)+1, uLife)
				tok.Rotated = true
				return tok, nil
			}
			raced := false
			h.setRefuse(func(verb string, obj client.Object) error {
				if raced || verb != "Update" || obj.GetName() != uStateName {
					return nil
				}
				raced = true
				stored := h.mustSecret(uStateName)
				dl := h.dl()
				if dl.Status.NextRefreshTime == nil {
					dl.Status.NextRefreshTime = &metav1.Time{}
				}
				tt.other(h, stored.Data, dl.Status.NextRefreshTime)
				if err := h.raw.Update(h.ctx, stored); err != nil {
					t.Fatalf("the other writer's state write: %v", err)
				}
				if err := h.raw.Status().Update(h.ctx, dl); err != nil {
					t.Fatalf("the other writer's status write: %v", err)
				}
				return nil // this write goes on, with the resourceVersion it read: a Conflict
			})
			h.stepTo(h.dl().Status.NextRefreshTime.Time)
			res, err := h.reconcile()
			if !raced {
				t.Fatal("the state Secret was not updated: nothing raced")
			}
			if !slices.ContainsFunc(h.traceSnapshot(), func(e string) bool {
				return strings.HasPrefix(e, "Update Secret/"+uStateName+" (failed") && strings.Contains(e, "modified")
			}) {
				t.Errorf("writes = %v, want this reconcile's state write to meet a Conflict", h.traceSnapshot())
			}
			if err != nil || res.RequeueAfter <= 0 {
				t.Errorf("Reconcile = %+v, %v; want no error and a requeue", res, err)
			}
			state := h.mustSecret(uStateName)
			if got := string(state.Data[KeyAccessToken]); got != tt.wantAccess {
				t.Errorf("state access_token = %q, want %q", got, tt.wantAccess)
			}
			if got := string(state.Data[KeyRefreshToken]); got != tt.wantRefresh {
				t.Errorf("state refresh_token = %q, want %q", got, tt.wantRefresh)
			}

			h.setRefuse(nil)
			h.clock.Step(time.Second)
			h.mustReconcile()
			state = h.mustSecret(uStateName)
			if got := string(state.Data[KeyRefreshToken]); got != tt.wantRefresh {
				t.Errorf("state refresh_token after the next reconcile = %q, want %q", got, tt.wantRefresh)
			}
			if got := string(h.mustSecret(uName).Data[KeyAccessToken]); got != tt.wantAccess {
				t.Errorf("token Secret access_token = %q, want %q", got, tt.wantAccess)
			}
			uCalls(t, h.flow, map[string]int{oauthtest.MethodRefresh: 1})
			uExpectReady(t, h.dl(), metav1.ConditionTrue, ReasonAuthorized)
		})
	}
}

// A state write refused at approval (the reconcile returns the error) loses neither the tokens nor
// the schedule: the next reconcile writes the tokens kept in memory, status has tokenExpiresAt,
// nextRefreshTime and authorizedAt, and once the token is due it is refreshed (or a new code is
// asked for) instead of the login sitting at Ready=True with nothing scheduled.
func TestUnitStateWriteRefusedAtApprovalKeepsSchedule(t *testing.T) {
	h := newUHarness(t)
	h.mustReconcile()
	h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) { return uToken(1, uLife), nil }
	h.stepTo(h.nextPollAt())
	issued := h.clock.Now()
	h.setRefuse(refuseState)
	if _, err := h.reconcile(); err == nil {
		t.Fatal("Reconcile succeeded although the tokens could not be stored")
	}
	h.setRefuse(nil)
	h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
		return nil, errors.New("unexpected poll")
	}
	h.flow.RefreshFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) { return uToken(2, uLife), nil }
	h.clock.Step(time.Second)
	res := h.mustReconcile()

	if got := string(h.mustSecret(uStateName).Data[KeyRefreshToken]); got != "REFRESH-TOKEN-1" {
		t.Fatalf("state refresh_token = %q: the tokens from the approval were lost", got)
	}
	if got := string(h.mustSecret(uName).Data[KeyAccessToken]); got != "ACCESS-TOKEN-1" {
		t.Fatalf("token Secret access_token = %q", got)
	}
	dl := h.dl()
	uExpectReady(t, dl, metav1.ConditionTrue, ReasonAuthorized)
	if dl.Status.TokenExpiresAt == nil || dl.Status.NextRefreshTime == nil || dl.Status.AuthorizedAt == nil {
		t.Errorf("after a refused state write at approval, the tokens are stored from memory but status has "+
			"tokenExpiresAt %v, nextRefreshTime %v, authorizedAt %v: the token would never be refreshed (RequeueAfter %s)",
			dl.Status.TokenExpiresAt, dl.Status.NextRefreshTime, dl.Status.AuthorizedAt, res.RequeueAfter)
	}
	// Past the expiry, the token is refreshed or a new code is asked for.
	h.stepTo(issued.Add(uLife + time.Minute))
	res = h.mustReconcile()
	h.mustReconcile()
	if h.flow.Calls(oauthtest.MethodRefresh) == 0 && h.flow.Calls(oauthtest.MethodRequestDeviceCode) == 1 {
		c := uReady(t, h.dl())
		t.Errorf("the token expired and the DeviceLogin is stuck at Ready=%s/%s with no refresh, no new code and RequeueAfter %s",
			c.Status, c.Reason, res.RequeueAfter)
	}
}
