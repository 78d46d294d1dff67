package controllers

// Refresh robustness (issue 10): absurd token lifetimes back off instead of refreshing every
// second, and "a new approval is needed" survives a failed code request. Harness:
// devicelogin_unit_test.go.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth/oauthtest"
)

// Issue 10 item 4: a token that lives a second (or whose expires_in made no sense) is stored, but
// refreshing it backs off like a failure, shows as TokenRefreshed=False ProviderError and is
// announced once; the controller never refreshes every second.
func TestUnitRefreshShortLivedTokenBacksOff(t *testing.T) {
	tests := []struct {
		name string
		tok  func(n int) *oauth.Token
	}{
		{"expires_in 1s", func(n int) *oauth.Token { return uToken(n, time.Second) }},
		{"expires_in 0", func(n int) *oauth.Token {
			tok := uToken(n, 0)
			tok.LifetimeProblem = "expires_in was 0"
			return tok
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newUHarness(t)
			h.authorize(tt.tok(1))
			dl := h.dl()
			rc := meta.FindStatusCondition(dl.Status.Conditions, ConditionTokenRefreshed)
			if rc == nil || rc.Status != metav1.ConditionFalse || rc.Reason != ReasonProviderError {
				t.Errorf("TokenRefreshed after the approval = %+v, want False/ProviderError", rc)
			}
			if c := uReady(t, dl); tt.tok(1).LifetimeProblem != "" && c.Status == metav1.ConditionTrue {
				t.Errorf("Ready = %s/%s (%q) for a token whose lifetime made no sense", c.Status, c.Reason, c.Message)
			}

			var at []time.Time
			h.flow.RefreshFn = func(_ context.Context, _ oauth.ClientConfig, rt string) (*oauth.Token, error) {
				at = append(at, h.clock.Now())
				if want := fmt.Sprintf("REFRESH-TOKEN-%d", len(at)); rt != want {
					t.Errorf("refresh %d sent %s, want %s", len(at), rt, want)
				}
				tok := tt.tok(len(at) + 1)
				tok.Rotated = true
				return tok, nil
			}
			for range 300 {
				h.clock.Step(time.Second)
				h.mustReconcile()
			}
			gaps := make([]string, 0, len(at))
			for i := 1; i < len(at); i++ {
				gaps = append(gaps, at[i].Sub(at[i-1]).String())
			}
			t.Logf("MEASURE %d refreshes in 300 s, %v apart", len(at), gaps)
			if len(at) < 2 || len(at) > 8 {
				t.Errorf("%d refreshes in 300 s, want a few that back off", len(at))
			}
			var prev time.Duration
			for i := 1; i < len(at); i++ {
				gap := at[i].Sub(at[i-1])
				if gap < 4*time.Second || gap < prev {
					t.Errorf("refresh %d came %s after the one before (%s before that): not backing off", i+1, gap, prev)
				}
				prev = gap
			}
			if ev := h.eventsWith(ReasonProviderError); len(ev) != 1 {
				t.Errorf("ProviderError events = %q, want exactly one", ev)
			}
			dl = h.dl()
			rc = meta.FindStatusCondition(dl.Status.Conditions, ConditionTokenRefreshed)
			if rc == nil || rc.Status != metav1.ConditionFalse || rc.Reason != ReasonProviderError {
				t.Errorf("TokenRefreshed = %+v, want False/ProviderError", rc)
			}
			uExpectReady(t, dl, metav1.ConditionFalse, ReasonProviderError)
			if n := h.flow.Calls(oauthtest.MethodRequestDeviceCode); n != 1 {
				t.Errorf("%d device codes requested, want the first one only", n)
			}
			h.assertNoSecretsLeaked()
		})
	}
}

// Issue 10 item 5: the provider refuses the refresh token and the next device-code request fails
// once; after the backoff (even across a restart of the controller) a new code is asked for.
func TestUnitRefreshRefusedThenTransientStillAsksForCode(t *testing.T) {
	h, _ := uAuthorized(t)
	h.flow.RefreshFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
		return nil, uOAuthErr("invalid_grant")
	}
	requests := 0
	h.flow.RequestDeviceCodeFn = func(context.Context, oauth.ClientConfig, oauth.DeviceRequest) (*oauth.DeviceAuthorization, error) {
		requests++
		if requests == 1 {
			return nil, &oauth.TransientError{Reason: "HTTP 503", StatusCode: 503}
		}
		return uCode(requests, 5*time.Minute, 5*time.Second), nil
	}
	h.stepTo(h.dl().Status.NextRefreshTime.Time)
	h.mustReconcile()
	uCalls(t, h.flow, map[string]int{oauthtest.MethodRefresh: 1, oauthtest.MethodRequestDeviceCode: 1})
	state := h.mustSecret(uStateName)
	if state.Data[keyNeedsApproval] == nil || state.Data[KeyRefreshToken] != nil {
		t.Errorf("state Secret: needs_approval %q refresh_token present %t", state.Data[keyNeedsApproval], state.Data[KeyRefreshToken] != nil)
	}
	dl := h.dl()
	if dl.Status.UserCode != "" || dl.Status.NextPollTime == nil {
		t.Fatalf("after the failed request: userCode %q nextPollTime %v", dl.Status.UserCode, dl.Status.NextPollTime)
	}

	// A restarted controller: nothing but what is stored.
	old := h.r
	h.r = &DeviceLoginReconciler{Client: old.Client, APIReader: old.APIReader, Scheme: old.Scheme, Flow: old.Flow,
		Clock: old.Clock, Recorder: old.Recorder}
	h.stepTo(dl.Status.NextPollTime.Time)
	h.mustReconcile()
	uCalls(t, h.flow, map[string]int{oauthtest.MethodRefresh: 1, oauthtest.MethodRequestDeviceCode: 2})
	dl = h.dl()
	if dl.Status.UserCode != "WDJB-0002" {
		t.Fatalf("userCode = %q after the backoff: the login stalled", dl.Status.UserCode)
	}
	uExpectReady(t, dl, metav1.ConditionTrue, ReasonReauthorizationRequired)

	// The approval clears the need.
	h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) { return uToken(3, uLife), nil }
	h.stepTo(dl.Status.NextPollTime.Time)
	h.mustReconcile()
	state = h.mustSecret(uStateName)
	if state.Data[keyNeedsApproval] != nil || string(state.Data[KeyAccessToken]) != "ACCESS-TOKEN-3" {
		t.Errorf("after the approval: needs_approval %q access_token %q", state.Data[keyNeedsApproval], state.Data[KeyAccessToken])
	}
	uExpectReady(t, h.dl(), metav1.ConditionTrue, ReasonAuthorized)
	h.clock.Step(time.Second)
	h.mustReconcile()
	uCalls(t, h.flow, map[string]int{oauthtest.MethodRefresh: 1, oauthtest.MethodRequestDeviceCode: 2, oauthtest.MethodPollToken: 1,
		oauthtest.MethodSubject: 1})
}
