package controllers

// Tests of the refresh step (devicelogin_refresh.go): rotation and the order of its writes, the
// refresh annotation, refused and failing refreshes, a rotated refresh token that survives a
// refused write, absurd token lifetimes, clock skew, and how little a provider outage costs.
// Harness: harness_unit_test.go.

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth/oauthtest"
)

// A due refresh rotates the tokens (provider call, then the state Secret, then the token Secret),
// the refresh annotation refreshes at once, a refused refresh token asks for a new approval while
// the current token is served, and transient failures back off until the token expires.
func TestUnitRefresh(t *testing.T) {
	t.Run("rotated", func(t *testing.T) {
		h, _ := uAuthorized(t)
		var got []string
		h.flow.RefreshFn = func(_ context.Context, _ oauth.ClientConfig, rt string) (*oauth.Token, error) {
			got = append(got, rt)
			h.note("Refresh " + rt)
			tok := uToken(2, uLife)
			tok.Rotated = true
			return tok, nil
		}
		h.stepTo(h.dl().Status.NextRefreshTime.Time)
		now := h.clock.Now()
		res := h.mustReconcile()

		uCalls(t, h.flow, map[string]int{oauthtest.MethodRefresh: 1})
		if !slices.Equal(got, []string{"REFRESH-TOKEN-1"}) {
			t.Errorf("Refresh got %q", got)
		}
		state, sec := h.mustSecret(uStateName), h.mustSecret(uName)
		if string(state.Data[KeyRefreshToken]) != "REFRESH-TOKEN-2" || string(state.Data[KeyAccessToken]) != "ACCESS-TOKEN-2" {
			t.Errorf("state Secret after rotation: refresh_token %q access_token %q", state.Data[KeyRefreshToken], state.Data[KeyAccessToken])
		}
		if string(sec.Data[KeyAccessToken]) != "ACCESS-TOKEN-2" || string(sec.Data[KeyExpiry]) != now.Add(uLife).UTC().Format(time.RFC3339) {
			t.Errorf("token Secret after refresh: %q %q", sec.Data[KeyAccessToken], sec.Data[KeyExpiry])
		}
		tr := h.traceSnapshot()
		iState := slices.Index(tr, "Update Secret/"+uStateName)
		iToken := slices.Index(tr, "Update Secret/"+uName)
		iRefresh := slices.Index(tr, "Refresh REFRESH-TOKEN-1")
		if iRefresh < 0 || iState < 0 || iToken < 0 || iRefresh >= iState || iState >= iToken {
			t.Errorf("order of the refresh's writes = %v, want the provider call, then the state Secret, then the token Secret", tr)
		}

		dl := h.dl()
		st := dl.Status
		uTimeEq(t, "lastRefreshTime", st.LastRefreshTime, now.Truncate(time.Second))
		uTimeEq(t, "tokenExpiresAt", st.TokenExpiresAt, now.Add(uLife).Truncate(time.Second))
		planned := now.Add(uLife * 2 / 3)
		if lo := planned.Add(-2 * time.Minute).Truncate(time.Second); st.NextRefreshTime == nil ||
			st.NextRefreshTime.Time.Before(lo) || st.NextRefreshTime.Time.After(planned) {
			t.Errorf("nextRefreshTime = %v, want within [%s, %s]", st.NextRefreshTime, lo, planned)
		}
		if res.RequeueAfter <= 0 || res.RequeueAfter > uLife*2/3 {
			t.Errorf("RequeueAfter = %s", res.RequeueAfter)
		}
		rc := meta.FindStatusCondition(st.Conditions, ConditionTokenRefreshed)
		if rc == nil || rc.Status != metav1.ConditionTrue || rc.Reason != ReasonRefreshSucceeded {
			t.Errorf("TokenRefreshed condition = %+v", rc)
		}
		uExpectReady(t, dl, metav1.ConditionTrue, ReasonAuthorized)
		if ev := h.eventsWith(EventTokenRefreshed); len(ev) != 1 || !strings.HasPrefix(ev[0], "Normal TokenRefreshed") {
			t.Errorf("TokenRefreshed events = %q", h.allEvents())
		}
		h.mustReconcile()
		uCalls(t, h.flow, map[string]int{oauthtest.MethodRefresh: 1})
		h.assertNoSecretsLeaked()
	})

	t.Run("refresh annotation", func(t *testing.T) {
		h, _ := uAuthorized(t)
		h.flow.RefreshFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) { return uToken(2, uLife), nil }
		h.clock.Step(time.Minute)
		h.updateDL(func(dl *authv1alpha1.DeviceLogin) {
			dl.Annotations = map[string]string{authv1alpha1.RefreshAnnotation: "now"}
		})
		h.mustReconcile()
		h.mustReconcile()
		uCalls(t, h.flow, map[string]int{oauthtest.MethodRefresh: 1})
		if dl := h.dl(); dl.Status.LastHandledRefresh != "now" {
			t.Errorf("lastHandledRefresh = %q", dl.Status.LastHandledRefresh)
		}
		if got := string(h.mustSecret(uName).Data[KeyAccessToken]); got != "ACCESS-TOKEN-2" {
			t.Errorf("token Secret access_token = %q", got)
		}
	})

	refused := []struct {
		name string
		err  error
	}{
		{"invalid_grant", uOAuthErr("invalid_grant")},
		{"Dex already claimed", &oauth.Error{Code: "invalid_request", StatusCode: 400, Description: "Refresh token claimed twice"}},
	}
	for _, tt := range refused {
		t.Run("refused: "+tt.name, func(t *testing.T) {
			h, _ := uAuthorized(t)
			h.flow.RefreshFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) { return nil, tt.err }
			tokenRV := h.mustSecret(uName).ResourceVersion
			h.stepTo(h.dl().Status.NextRefreshTime.Time)
			h.mustReconcile()

			uCalls(t, h.flow, map[string]int{oauthtest.MethodRefresh: 1, oauthtest.MethodRequestDeviceCode: 1})
			sec := h.mustSecret(uName)
			if string(sec.Data[KeyAccessToken]) != "ACCESS-TOKEN-1" || sec.ResourceVersion != tokenRV {
				t.Errorf("token Secret changed: access_token %q", sec.Data[KeyAccessToken])
			}
			state := h.mustSecret(uStateName)
			if state.Data[KeyRefreshToken] != nil || string(state.Data[keyDeviceCode]) != "DEVICE-CODE-2" ||
				string(state.Data[KeyAccessToken]) != "ACCESS-TOKEN-1" {
				t.Errorf("state Secret: refresh_token %q device_code %q access_token %q",
					state.Data[KeyRefreshToken], state.Data[keyDeviceCode], state.Data[KeyAccessToken])
			}
			dl := h.dl()
			c := uExpectReady(t, dl, metav1.ConditionTrue, ReasonReauthorizationRequired)
			if !strings.Contains(c.Message, "Visit "+uVerifyURI+" and enter code WDJB-0002") {
				t.Errorf("Ready message %q does not show the new code", c.Message)
			}
			if dl.Status.UserCode != "WDJB-0002" || dl.Status.NextRefreshTime != nil {
				t.Errorf("userCode %q nextRefreshTime %v", dl.Status.UserCode, dl.Status.NextRefreshTime)
			}
			rc := meta.FindStatusCondition(dl.Status.Conditions, ConditionTokenRefreshed)
			if rc == nil || rc.Status != metav1.ConditionFalse || rc.Reason != ReasonReauthorizationRequired {
				t.Errorf("TokenRefreshed condition = %+v", rc)
			}
			if len(h.eventsWith(ReasonReauthorizationRequired)) != 1 || len(h.eventsWith(EventUserCodeIssued)) != 1 {
				t.Errorf("events = %q", h.allEvents())
			}
			h.clock.Step(time.Second)
			h.mustReconcile()
			uCalls(t, h.flow, map[string]int{oauthtest.MethodRefresh: 1, oauthtest.MethodRequestDeviceCode: 1})
			h.assertNoSecretsLeaked()
		})
	}

	t.Run("transient failure", func(t *testing.T) {
		// The next refresh after the n-th failure in a row: 5s doubled, ±20%, plus up to a second
		// of rounding up. Written out, so that a changed backoffBase fails here.
		within := []struct{ lo, hi time.Duration }{
			1: {4 * time.Second, 7 * time.Second},
			2: {8 * time.Second, 13 * time.Second},
			3: {16 * time.Second, 25 * time.Second},
		}
		h, issued := uAuthorized(t)
		h.flow.RefreshFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
			return nil, &oauth.TransientError{Reason: "HTTP 503", StatusCode: 503}
		}
		tokenRV := h.mustSecret(uName).ResourceVersion
		for n := int32(1); n <= 3; n++ {
			h.stepTo(h.dl().Status.NextRefreshTime.Time)
			now := h.clock.Now()
			h.mustReconcile()
			dl := h.dl()
			if dl.Status.ConsecutiveFailures != n {
				t.Errorf("after failure %d: consecutiveFailures %d", n, dl.Status.ConsecutiveFailures)
			}
			lo, hi := now.Add(within[n].lo), now.Add(within[n].hi)
			if next := dl.Status.NextRefreshTime; next == nil || next.Time.Before(lo) || next.Time.After(hi) {
				t.Errorf("after failure %d: nextRefreshTime %v, want within [%s, %s]", n, next, lo, hi)
			}
			rc := meta.FindStatusCondition(dl.Status.Conditions, ConditionTokenRefreshed)
			if rc == nil || rc.Status != metav1.ConditionFalse || rc.Reason != ReasonRefreshFailed {
				t.Errorf("after failure %d: TokenRefreshed condition = %+v", n, rc)
			}
			uExpectReady(t, dl, metav1.ConditionTrue, ReasonAuthorized)
		}
		uCalls(t, h.flow, map[string]int{oauthtest.MethodRefresh: 3})
		if ev := h.eventsWith(EventRefreshFailed); len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning RefreshFailed") {
			t.Errorf("RefreshFailed events = %q, want one", h.allEvents())
		}
		if sec := h.mustSecret(uName); sec.ResourceVersion != tokenRV {
			t.Error("a failed refresh rewrote the token Secret")
		}

		// Until the token expires: then Ready turns False.
		h.stepTo(issued.Add(uLife))
		h.mustReconcile()
		uExpectReady(t, h.dl(), metav1.ConditionFalse, ReasonProviderNotReady)

		// The provider is back.
		h.flow.RefreshFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) { return uToken(2, uLife), nil }
		h.stepTo(h.dl().Status.NextRefreshTime.Time)
		h.mustReconcile()
		dl := h.dl()
		rc := meta.FindStatusCondition(dl.Status.Conditions, ConditionTokenRefreshed)
		if rc == nil || rc.Status != metav1.ConditionTrue || dl.Status.ConsecutiveFailures != 0 {
			t.Errorf("after recovery: TokenRefreshed %+v consecutiveFailures %d", rc, dl.Status.ConsecutiveFailures)
		}
		uExpectReady(t, dl, metav1.ConditionTrue, ReasonAuthorized)
		if string(h.mustSecret(uName).Data[KeyAccessToken]) != "ACCESS-TOKEN-2" {
			t.Error("token Secret not updated after recovery")
		}
	})
}

// A rotated refresh token whose state write is refused is kept in memory and written before the
// next refresh, which sends it: no refresh token the provider issued is lost.
func TestUnitRefreshRotatedTokenSurvivesRefusedStateWrite(t *testing.T) {
	h, _ := uAuthorized(t)
	var got []string
	var stateAtCall []string
	h.flow.RefreshFn = func(_ context.Context, _ oauth.ClientConfig, rt string) (*oauth.Token, error) {
		got = append(got, rt)
		h.note("Refresh " + rt)
		if s := h.secret(uStateName); s != nil {
			stateAtCall = append(stateAtCall, string(s.Data[KeyRefreshToken]))
		}
		tok := uToken(len(got)+1, uLife)
		tok.Rotated = true
		return tok, nil
	}
	h.stepTo(h.dl().Status.NextRefreshTime.Time)
	h.setRefuse(refuseState)
	if _, err := h.reconcile(); err == nil {
		t.Fatal("Reconcile succeeded although the rotated refresh token could not be stored")
	}
	if got := string(h.mustSecret(uStateName).Data[KeyRefreshToken]); got != "REFRESH-TOKEN-1" {
		t.Fatalf("state refresh_token = %q", got)
	}
	if got := string(h.mustSecret(uName).Data[KeyAccessToken]); got != "ACCESS-TOKEN-1" {
		t.Errorf("token Secret written before the state: access_token %q", got)
	}

	h.setRefuse(nil)
	h.resetCounts()
	h.clock.Step(time.Second)
	h.mustReconcile()
	tr := h.traceSnapshot()
	iState := slices.Index(tr, "Update Secret/"+uStateName)
	iRefresh := slices.IndexFunc(tr, func(s string) bool { return strings.HasPrefix(s, "Refresh ") })
	if iState < 0 || (iRefresh >= 0 && iRefresh < iState) {
		t.Errorf("writes and calls = %v, want the state Secret written before any new refresh", tr)
	}
	if len(got) < 2 {
		// Not refreshed again in that reconcile: the next refresh, when due, must use the rotated token.
		h.stepTo(h.dl().Status.NextRefreshTime.Time)
		h.mustReconcile()
	}
	t.Logf("writes and provider calls after the refused write: %v", h.traceSnapshot())
	if len(got) < 2 {
		t.Fatalf("no refresh after the refused write: calls %q", got)
	}
	if got[1] != "REFRESH-TOKEN-2" {
		t.Errorf("the refresh after the refused write sent %q, want the rotated REFRESH-TOKEN-2", got[1])
	}
	if stateAtCall[1] != "REFRESH-TOKEN-2" {
		t.Errorf("state Secret held %q when the provider was called again, want REFRESH-TOKEN-2", stateAtCall[1])
	}
	// No refresh token the provider issued is lost, and the workload gets the newest access token.
	last := len(got) + 1
	if rt := string(h.mustSecret(uStateName).Data[KeyRefreshToken]); rt != fmt.Sprintf("REFRESH-TOKEN-%d", last) {
		t.Errorf("state refresh_token = %q, want the last one issued, REFRESH-TOKEN-%d (calls %q)", rt, last, got)
	}
	if at := string(h.mustSecret(uName).Data[KeyAccessToken]); at != fmt.Sprintf("ACCESS-TOKEN-%d", last) {
		t.Errorf("token Secret access_token = %q, want ACCESS-TOKEN-%d", at, last)
	}
	uExpectReady(t, h.dl(), metav1.ConditionTrue, ReasonAuthorized)
}

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
			// The loop may end right after a refresh, while the new token still lives (Ready is
			// True then): look once it has expired, long before the backed-off next refresh.
			if exp := h.dl().Status.TokenExpiresAt; exp != nil && !h.clock.Now().After(exp.Time) {
				h.clock.SetTime(exp.Add(time.Second))
				h.mustReconcile()
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

// A provider whose clock differs from the node's stamps exp on its JWT access tokens with its own clock, and resource servers check that exp.
// Whichever way the clocks differ, the refresh comes before both that exp and expires_in.
func TestUnitRefreshBeforeTheTokensOwnExpUnderClockSkew(t *testing.T) {
	jwt := func(exp time.Time) string {
		payload := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"sub":"a","exp":%d}`, exp.Unix())))
		return "eyJhbGciOiJSUzI1NiJ9." + payload + ".c2ln"
	}
	for _, tt := range []struct {
		name string
		skew time.Duration // provider clock minus node clock
	}{
		{"provider 30 minutes behind", -30 * time.Minute},
		{"provider 20 minutes ahead", 20 * time.Minute},
		{"clocks agree", 0},
		{"provider 2 hours behind: exp already past on the node, expires_in is used", -2 * time.Hour},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newUHarness(t)
			var exp time.Time
			h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
				providerNow := h.clock.Now().Add(tt.skew)
				exp = providerNow.Add(time.Hour).Truncate(time.Second)
				return &oauth.Token{AccessToken: jwt(exp), TokenType: "Bearer", RefreshToken: "rt", ExpiresIn: time.Hour}, nil
			}
			h.clock.Step(h.mustReconcile().RequeueAfter)
			issued := h.clock.Now()
			h.mustReconcile()
			dl := h.dl()
			if dl.Status.NextRefreshTime == nil {
				t.Fatal("no nextRefreshTime")
			}
			next := dl.Status.NextRefreshTime.Time
			deadline := issued.Add(time.Hour) // expires_in, on the node's clock
			if exp.After(issued) && exp.Before(deadline) {
				deadline = exp
			}
			if got := dl.Status.TokenExpiresAt.Time; !got.Equal(deadline.Truncate(time.Second)) {
				t.Fatalf("tokenExpiresAt %s; want the earlier of exp and expires_in, %s", got, deadline)
			}
			if !next.Before(deadline) {
				t.Fatalf("refresh at %s is not before the token's deadline %s (exp %s)", next, deadline, exp)
			}
			if !next.After(issued) {
				t.Fatalf("refresh at %s is not after issue %s", next, issued)
			}
			t.Logf("skew %s: exp %s, refresh %s before the deadline", tt.skew, exp.Sub(issued), deadline.Sub(next))
		})
	}
}

// How many refresh requests a provider that is down for ten minutes receives while a refresh is
// due: backoff to the 5-minute cap, about 7; the token Secret keeps the current access token and
// Ready stays True while it is valid.
func TestUnitRefreshOutageRequestCount(t *testing.T) {
	h := newUHarness(t)
	h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
		return uToken(1, time.Hour), nil
	}
	h.clock.Step(h.mustReconcile().RequeueAfter)
	after := h.mustReconcile().RequeueAfter // approved: the next requeue is the refresh, about 40 minutes on
	if after < 30*time.Minute {
		t.Fatalf("after approval the next reconcile is in %s; want the refresh, about 40 minutes on", after)
	}
	h.clock.Step(after)
	h.flow.RefreshFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
		return nil, &oauth.TransientError{Reason: "connection refused"}
	}
	reconciles := h.runFor(10 * time.Minute)
	refreshes := h.flow.Calls(oauthtest.MethodRefresh)
	t.Logf("MEASURE 10-minute outage with a refresh due: %d refresh requests, %d reconciles", refreshes, reconciles)
	if refreshes > 12 || refreshes < 5 {
		t.Fatalf("%d refresh requests in a 10-minute outage; want exponential backoff to the 5-minute cap (about 7)", refreshes)
	}
	if string(h.mustSecret(uName).Data[KeyAccessToken]) != "ACCESS-TOKEN-1" {
		t.Fatal("the token Secret lost the current access token during the outage")
	}
	if c := uReady(t, h.dl()); c.Status != metav1.ConditionTrue {
		t.Fatalf("Ready = %v while the access token is valid; want True", c)
	}
}

// An expired token whose refresh failed with ProviderError (Ready False/ProviderError) is not a
// halt: once a refresh succeeds, Ready is True/Authorized, not True with the old message.
func TestUnitRefreshAfterExpiredTokenIsNotAHalt(t *testing.T) {
	h := newUHarness(t)
	h.authorize(uToken(1, time.Second)) // too short-lived: TokenRefreshed False/ProviderError
	h.clock.Step(2 * time.Second)       // expired, and the backed-off refresh is not due yet
	h.mustReconcile()
	uExpectReady(t, h.dl(), metav1.ConditionFalse, ReasonProviderError)

	h.flow.RefreshFn = func(_ context.Context, _ oauth.ClientConfig, _ string) (*oauth.Token, error) {
		tok := uToken(2, time.Hour)
		tok.Rotated = true
		return tok, nil
	}
	for range 600 {
		h.clock.Step(time.Second)
		h.mustReconcile()
		if h.flow.Calls(oauthtest.MethodRefresh) > 0 && string(h.mustSecret(uName).Data[KeyAccessToken]) == "ACCESS-TOKEN-2" {
			break
		}
	}
	if at := string(h.mustSecret(uName).Data[KeyAccessToken]); at != "ACCESS-TOKEN-2" {
		t.Fatalf("token Secret access_token = %q after 10 minutes, want the refreshed ACCESS-TOKEN-2", at)
	}
	h.clock.Step(time.Second)
	h.mustReconcile()
	uExpectReady(t, h.dl(), metav1.ConditionTrue, ReasonAuthorized)
}
