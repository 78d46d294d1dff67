package controllers

// Tests of the device flow step (devicelogin_flow.go): the first code, the approval and what it
// stores, the tokens stored before the subject lookup, expired codes under Renew and Stop, a bounded
// number of unanswered codes, and the answers that end the flow. Harness: harness_unit_test.go.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth/oauthtest"
)

// roundUp is how the controller books a poll: at t rounded up to the second.
func roundUp(t time.Time) time.Time { return t.Add(time.Second - 1).Truncate(time.Second) }

// The first reconcile asks the provider for a code with the DeviceLogin's scopes, publishes it in
// status, the Ready message and one UserCodeIssued event, keeps the device code in the state
// Secret only, and comes back at the poll interval.
func TestUnitFlowFirstReconcileRequestsCode(t *testing.T) {
	h := newUHarness(t)
	var gotCfg oauth.ClientConfig
	var gotReq oauth.DeviceRequest
	h.flow.RequestDeviceCodeFn = func(_ context.Context, cfg oauth.ClientConfig, req oauth.DeviceRequest) (*oauth.DeviceAuthorization, error) {
		gotCfg, gotReq = cfg, req
		return &oauth.DeviceAuthorization{
			DeviceCode: "DEVICE-CODE-1", UserCode: "WDJB-MJHT", VerificationURI: uVerifyURI,
			VerificationURIComplete: uVerifyURI + "?user_code=WDJB-MJHT", ExpiresIn: 5 * time.Minute, Interval: 5 * time.Second,
		}, nil
	}
	res := h.mustReconcile()

	uCalls(t, h.flow, map[string]int{oauthtest.MethodRequestDeviceCode: 1})
	if gotCfg.Endpoints.DeviceAuthorizationURL != uDeviceURL || gotCfg.Endpoints.TokenURL != uTokenURL ||
		gotCfg.ClientID != "k8s-operator" || gotCfg.AuthStyle != oauth.AuthNone {
		t.Errorf("client config = %+v", gotCfg)
	}
	if !slices.Equal(gotReq.Scopes, uScopes) {
		t.Errorf("requested scopes %v, want %v", gotReq.Scopes, uScopes)
	}

	dl := h.dl()
	st := dl.Status
	if st.UserCode != "WDJB-MJHT" || st.VerificationURI != uVerifyURI ||
		st.VerificationURIComplete != uVerifyURI+"?user_code=WDJB-MJHT" || st.ApprovalURL != st.VerificationURIComplete {
		t.Errorf("code in status = %q %q %q %q", st.UserCode, st.VerificationURI, st.VerificationURIComplete, st.ApprovalURL)
	}
	expires := uStart.Add(5 * time.Minute).Truncate(time.Second) // 18:20:00
	uTimeEq(t, "userCodeExpiresAt", st.UserCodeExpiresAt, expires)
	if st.PollInterval != 5 {
		t.Errorf("pollInterval = %d, want 5", st.PollInterval)
	}
	nextPoll := roundUp(uStart.Add(5 * time.Second)) // 18:15:05.25 rounded up: 18:15:06
	uTimeEq(t, "nextPollTime", st.NextPollTime, nextPoll)
	if !nextPoll.Equal(time.Date(2026, 11, 28, 18, 15, 6, 0, time.UTC)) {
		t.Fatalf("test arithmetic: %s", nextPoll)
	}
	if st.ObservedGeneration != 1 {
		t.Errorf("observedGeneration = %d, want 1", st.ObservedGeneration)
	}
	c := uExpectReady(t, dl, metav1.ConditionFalse, ReasonAwaitingApproval)
	wantMsg := "Visit " + uVerifyURI + " and enter code WDJB-MJHT (expires 2026-11-28T18:20:00Z)"
	if c.Message != wantMsg {
		t.Errorf("Ready message = %q, want %q", c.Message, wantMsg)
	}

	issued := h.eventsWith(EventUserCodeIssued)
	if len(issued) != 1 {
		t.Fatalf("UserCodeIssued events = %q, want one", h.allEvents())
	}
	for _, part := range []string{"Normal UserCodeIssued", uVerifyURI, "WDJB-MJHT", "2026-11-28T18:20:00Z", "OAuthProvider idp", "openid email offline_access"} {
		if !strings.Contains(issued[0], part) {
			t.Errorf("UserCodeIssued event %q does not contain %q", issued[0], part)
		}
	}
	if n := len(h.allEvents()); n != 1 {
		t.Errorf("events = %q, want only UserCodeIssued", h.allEvents())
	}

	state := h.mustSecret(uStateName)
	if got := string(state.Data[keyDeviceCode]); got != "DEVICE-CODE-1" {
		t.Errorf("state device_code = %q", got)
	}
	if !ownedBy(state, dl) || state.Labels[authv1alpha1.DeviceLoginLabel] != uName {
		t.Errorf("state Secret owner %v labels %v", state.OwnerReferences, state.Labels)
	}
	if h.secret(uName) != nil {
		t.Error("a token Secret exists before approval")
	}

	if res.RequeueAfter != 5*time.Second {
		t.Errorf("RequeueAfter = %s, want the poll interval, 5s", res.RequeueAfter)
	}
	h.assertNoSecretsLeaked()
}

// An approved code yields the token Secret (as api.md describes it, with each spec option), the
// refresh token in the state Secret only, Ready=True Authorized, one Authorized event and a
// refresh booked with jitter before the expiry.
func TestUnitFlowAuthorized(t *testing.T) {
	tests := []struct {
		name          string
		include       bool
		refreshBefore time.Duration
		tok           func() *oauth.Token
		wantScopes    []string
	}{
		{name: "defaults", tok: func() *oauth.Token { return uToken(1, uLife) }, wantScopes: []string{"openid", "email"}},
		{name: "includeRefreshToken", include: true, tok: func() *oauth.Token { return uToken(1, uLife) }, wantScopes: []string{"openid", "email"}},
		{name: "refreshBefore 10m", refreshBefore: 10 * time.Minute, tok: func() *oauth.Token { return uToken(1, uLife) }, wantScopes: []string{"openid", "email"}},
		{name: "refreshBefore longer than half the life", refreshBefore: 50 * time.Minute, tok: func() *oauth.Token { return uToken(1, uLife) }, wantScopes: []string{"openid", "email"}},
		{name: "no scope, no id token, short life", tok: func() *oauth.Token {
			tok := uToken(1, 6*time.Minute)
			tok.Scope, tok.IDToken = "", ""
			return tok
		}, wantScopes: uScopes},
		{name: "does not expire", tok: func() *oauth.Token { return uToken(1, 0) }, wantScopes: []string{"openid", "email"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newUHarness(t, func(s *uSetup) {
				s.dl.Spec.IncludeRefreshToken = tt.include
				if tt.refreshBefore > 0 {
					s.dl.Spec.RefreshBefore = &metav1.Duration{Duration: tt.refreshBefore}
				}
			})
			tok := tt.tok()
			var subjectGot *oauth.Token
			h.flow.SubjectFn = func(_ context.Context, _ oauth.ClientConfig, tok *oauth.Token) (string, error) {
				subjectGot = tok
				return uSubject, nil
			}
			var polledWith string
			h.mustReconcile()
			h.flow.PollTokenFn = func(_ context.Context, _ oauth.ClientConfig, dc string) (*oauth.Token, error) {
				polledWith = dc
				return tok, nil
			}
			h.stepTo(h.nextPollAt())
			issued := h.clock.Now()
			res := h.mustReconcile()

			uCalls(t, h.flow, map[string]int{oauthtest.MethodRequestDeviceCode: 1, oauthtest.MethodPollToken: 1, oauthtest.MethodSubject: 1})
			if polledWith != "DEVICE-CODE-1" {
				t.Errorf("polled with %q", polledWith)
			}
			if subjectGot == nil || subjectGot.AccessToken != "ACCESS-TOKEN-1" {
				t.Errorf("Subject got %+v", subjectGot)
			}
			dl := h.dl()
			sec := h.mustSecret(uName)
			want := map[string]string{KeyAccessToken: "ACCESS-TOKEN-1", KeyTokenType: "Bearer"}
			if tok.ExpiresIn > 0 {
				want[KeyExpiry] = issued.Add(tok.ExpiresIn).UTC().Format(time.RFC3339)
			}
			// No scope in the answer means the requested scopes were granted (RFC 6749 section 5.1).
			want[KeyScope] = strings.Join(tt.wantScopes, " ")
			if tok.IDToken != "" {
				want[KeyIDToken] = tok.IDToken
			}
			if tt.include {
				want[KeyRefreshToken] = "REFRESH-TOKEN-1"
			}
			got := map[string]string{}
			for k, v := range sec.Data {
				got[k] = string(v)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("token Secret data = %v, want %v", got, want)
			}
			if sec.Type != corev1.SecretTypeOpaque || sec.Labels[authv1alpha1.DeviceLoginLabel] != uName {
				t.Errorf("token Secret type %q labels %v", sec.Type, sec.Labels)
			}
			ref := metav1.GetControllerOf(sec)
			if ref == nil || ref.UID != uUID || ref.Kind != "DeviceLogin" || ref.Name != uName || ref.APIVersion != authv1alpha1.GroupVersion.String() {
				t.Errorf("token Secret controller reference = %+v", ref)
			}
			state := h.mustSecret(uStateName)
			if string(state.Data[KeyRefreshToken]) != "REFRESH-TOKEN-1" || state.Data[keyDeviceCode] != nil {
				t.Errorf("state Secret refresh_token %q device_code %q", state.Data[KeyRefreshToken], state.Data[keyDeviceCode])
			}

			st := dl.Status
			if st.AuthorizedSubject != uSubject || !slices.Equal(st.GrantedScopes, tt.wantScopes) || st.SecretName != uName {
				t.Errorf("authorizedSubject %q grantedScopes %v secretName %q", st.AuthorizedSubject, st.GrantedScopes, st.SecretName)
			}
			uTimeEq(t, "authorizedAt", st.AuthorizedAt, issued.Truncate(time.Second))
			if st.UserCode != "" || st.ApprovalURL != "" || st.NextPollTime != nil || st.UserCodeExpiresAt != nil || st.PollInterval != 0 {
				t.Errorf("pending code left in status: %+v", st)
			}
			c := uExpectReady(t, dl, metav1.ConditionTrue, ReasonAuthorized)
			if ev := h.eventsWith(ReasonAuthorized); len(ev) != 1 || !strings.Contains(ev[0], "by "+uSubject) {
				t.Errorf("Authorized events = %q", h.allEvents())
			}

			if tok.ExpiresIn == 0 {
				if st.TokenExpiresAt != nil || st.NextRefreshTime != nil {
					t.Errorf("token that does not expire: tokenExpiresAt %v nextRefreshTime %v", st.TokenExpiresAt, st.NextRefreshTime)
				}
				if res.RequeueAfter != 0 {
					t.Logf("early wake: RequeueAfter = %s for a token that does not expire", res.RequeueAfter)
				}
				h.stepTo(h.clock.Now().Add(res.RequeueAfter))
				if res = h.mustReconcile(); res.RequeueAfter != 0 {
					t.Errorf("RequeueAfter = %s for a token that does not expire, want none", res.RequeueAfter)
				}
				return
			}
			life := tok.ExpiresIn
			expiry := issued.Add(life)
			uTimeEq(t, "tokenExpiresAt", st.TokenExpiresAt, expiry.Truncate(time.Second))
			planned := issued.Add(life * 2 / 3)
			if tt.refreshBefore > 0 {
				planned = expiry.Add(-tt.refreshBefore)
				if half := issued.Add(life / 2); planned.Before(half) {
					planned = half
				}
			}
			maxJitter := min(life/20, 2*time.Minute)
			lo, hi := planned.Add(-maxJitter).Truncate(time.Second), planned
			if st.NextRefreshTime == nil || st.NextRefreshTime.Time.Before(lo) || st.NextRefreshTime.Time.After(hi) {
				t.Errorf("nextRefreshTime = %v, want within [%s, %s]", st.NextRefreshTime, lo, hi)
			}
			uRequeueNotLate(t, res, st.NextRefreshTime.Sub(issued)+time.Second, "nextRefreshTime")
			if !strings.Contains(c.Message, "next refresh at "+timestamp(st.NextRefreshTime.Time)) {
				t.Errorf("Ready message %q", c.Message)
			}
			h.assertNoSecretsLeaked()
		})
	}
}

// Issue 10 item 9: the tokens are in the state Secret before the subject lookup (a network call)
// starts, and a failed lookup loses nothing.
func TestUnitFlowStoresTokensBeforeSubject(t *testing.T) {
	h := newUHarness(t)
	h.mustReconcile()
	var storedAtSubject string
	h.flow.SubjectFn = func(context.Context, oauth.ClientConfig, *oauth.Token) (string, error) {
		h.note("Subject")
		if s := h.secret(uStateName); s != nil {
			storedAtSubject = string(s.Data[KeyRefreshToken])
		}
		return "", errors.New("userinfo: connection reset by peer")
	}
	h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) { return uToken(1, uLife), nil }
	h.stepTo(h.dl().Status.NextPollTime.Time)
	h.resetCounts()
	h.mustReconcile()

	tr := h.traceSnapshot()
	iState, iSubject := slices.Index(tr, "Update Secret/"+uStateName), slices.Index(tr, "Subject")
	if iState < 0 || iSubject < 0 || iState > iSubject {
		t.Errorf("writes and calls = %v, want the state Secret written before Subject", tr)
	}
	if storedAtSubject != "REFRESH-TOKEN-1" {
		t.Errorf("state refresh_token at the subject lookup = %q, want REFRESH-TOKEN-1", storedAtSubject)
	}
	if got := string(h.mustSecret(uName).Data[KeyAccessToken]); got != "ACCESS-TOKEN-1" {
		t.Errorf("token Secret access_token = %q after a failed subject lookup", got)
	}
	dl := h.dl()
	uExpectReady(t, dl, metav1.ConditionTrue, ReasonAuthorized)
	if dl.Status.AuthorizedSubject != "" {
		t.Errorf("authorizedSubject = %q", dl.Status.AuthorizedSubject)
	}
	if ev := h.eventsWith(ReasonAuthorized); len(ev) != 1 || strings.Contains(ev[0], " by ") {
		t.Errorf("Authorized events = %q", h.allEvents())
	}
	h.assertNoSecretsLeaked()
}

// A code that expires (by the provider's expired_token or by the clock) is renewed under Renew;
// under Stop nothing more happens until the reauthorize annotation changes.
func TestUnitFlowCodeExpired(t *testing.T) {
	tests := []struct {
		name   string
		policy authv1alpha1.CodeExpiryPolicy
		// byPoll: the provider answers expired_token; else the clock passes userCodeExpiresAt.
		byPoll bool
	}{
		{"Renew, expired_token", authv1alpha1.CodeExpiryRenew, true},
		{"Renew, clock", authv1alpha1.CodeExpiryRenew, false},
		{"Stop, expired_token", authv1alpha1.CodeExpiryStop, true},
		{"Stop, clock", authv1alpha1.CodeExpiryStop, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newUHarness(t, func(s *uSetup) { s.dl.Spec.CodeExpiryPolicy = tt.policy })
			h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
				return nil, uOAuthErr("expired_token")
			}
			h.mustReconcile()
			wantPolls := 0
			if tt.byPoll {
				h.stepTo(h.nextPollAt())
				wantPolls = 1
			} else {
				h.stepTo(h.dl().Status.UserCodeExpiresAt.Time)
			}
			res := h.mustReconcile()

			expired := h.eventsWith(ReasonCodeExpired)
			if len(expired) != 1 || !strings.HasPrefix(expired[0], "Warning CodeExpired The user code WDJB-0001 expired at 2026-11-28T18:20:00Z") {
				t.Errorf("CodeExpired events = %q", expired)
			}
			dl := h.dl()
			state := h.mustSecret(uStateName)
			if tt.policy == authv1alpha1.CodeExpiryRenew {
				uCalls(t, h.flow, map[string]int{oauthtest.MethodRequestDeviceCode: 2, oauthtest.MethodPollToken: wantPolls})
				if dl.Status.UserCode != "WDJB-0002" || string(state.Data[keyDeviceCode]) != "DEVICE-CODE-2" {
					t.Errorf("after renewal: userCode %q, device_code %q", dl.Status.UserCode, state.Data[keyDeviceCode])
				}
				if n := len(h.eventsWith(EventUserCodeIssued)); n != 2 {
					t.Errorf("UserCodeIssued events = %d, want 2", n)
				}
				uExpectReady(t, dl, metav1.ConditionFalse, ReasonAwaitingApproval)
				uTimeEq(t, "userCodeExpiresAt", dl.Status.UserCodeExpiresAt, h.clock.Now().Add(5*time.Minute).Truncate(time.Second))
				return
			}

			// Stop: no new code, now or later, until the reauthorize annotation changes.
			uCalls(t, h.flow, map[string]int{oauthtest.MethodRequestDeviceCode: 1, oauthtest.MethodPollToken: wantPolls})
			c := uExpectReady(t, dl, metav1.ConditionFalse, ReasonCodeExpired)
			if !strings.Contains(c.Message, authv1alpha1.ReauthorizeAnnotation) {
				t.Errorf("Ready message %q does not say how to go on", c.Message)
			}
			if dl.Status.UserCode != "" || dl.Status.NextPollTime != nil || state.Data[keyDeviceCode] != nil {
				t.Errorf("expired code kept: userCode %q nextPollTime %v device_code %q", dl.Status.UserCode, dl.Status.NextPollTime, state.Data[keyDeviceCode])
			}
			if res.RequeueAfter != 0 {
				t.Logf("early wake: RequeueAfter = %s while stopped (nothing is due)", res.RequeueAfter)
			}
			h.resetCounts()
			for range 3 {
				h.clock.Step(10 * time.Minute)
				res = h.mustReconcile()
			}
			if res.RequeueAfter != 0 {
				t.Errorf("RequeueAfter = %s while stopped, want none", res.RequeueAfter)
			}
			uCalls(t, h.flow, nil)
			if w := h.writeCount(); w != 0 || len(h.allEvents()) != 0 {
				t.Errorf("while stopped: writes %v, events %q", h.traceSnapshot(), h.allEvents())
			}
			uExpectReady(t, h.dl(), metav1.ConditionFalse, ReasonCodeExpired)

			h.updateDL(func(dl *authv1alpha1.DeviceLogin) {
				dl.Annotations = map[string]string{authv1alpha1.ReauthorizeAnnotation: "2026-11-28"}
			})
			h.mustReconcile()
			uCalls(t, h.flow, map[string]int{oauthtest.MethodRequestDeviceCode: 1})
			dl = h.dl()
			if dl.Status.UserCode != "WDJB-0002" || dl.Status.LastHandledReauthorize != "2026-11-28" {
				t.Errorf("after reauthorize: userCode %q lastHandledReauthorize %q", dl.Status.UserCode, dl.Status.LastHandledReauthorize)
			}
			uExpectReady(t, dl, metav1.ConditionFalse, ReasonAwaitingApproval)
			h.mustReconcile()
			uCalls(t, h.flow, map[string]int{oauthtest.MethodRequestDeviceCode: 1})
		})
	}
}

// Issue 10 item 13: under Renew, an abandoned login stops after maxUnansweredCodes codes expired
// unapproved, says so, and the reauthorize annotation starts again.
func TestUnitFlowUnansweredCodesStop(t *testing.T) {
	h := newUHarness(t)
	h.mustReconcile()
	for i := 0; i < 2*maxUnansweredCodes && h.dl().Status.UserCodeExpiresAt != nil; i++ {
		h.stepTo(h.dl().Status.UserCodeExpiresAt.Time)
		h.mustReconcile()
	}
	uCalls(t, h.flow, map[string]int{oauthtest.MethodRequestDeviceCode: maxUnansweredCodes})
	dl := h.dl()
	if dl.Status.UnansweredCodes != maxUnansweredCodes || dl.Status.UserCode != "" {
		t.Errorf("unansweredCodes %d userCode %q", dl.Status.UnansweredCodes, dl.Status.UserCode)
	}
	c := uExpectReady(t, dl, metav1.ConditionFalse, ReasonCodeExpired)
	if !strings.Contains(c.Message, authv1alpha1.ReauthorizeAnnotation) {
		t.Errorf("Ready message %q does not say how to go on", c.Message)
	}
	ev := h.eventsWith(ReasonCodeExpired)
	if len(ev) != maxUnansweredCodes || !strings.Contains(ev[len(ev)-1], "10 unanswered codes in a row, so no new code is requested") {
		t.Errorf("CodeExpired events = %q", ev)
	}

	h.resetCounts()
	for range 3 {
		h.clock.Step(10 * time.Minute)
		h.mustReconcile()
	}
	uCalls(t, h.flow, nil)
	uExpectReady(t, h.dl(), metav1.ConditionFalse, ReasonCodeExpired)

	h.updateDL(func(dl *authv1alpha1.DeviceLogin) {
		dl.Annotations = map[string]string{authv1alpha1.ReauthorizeAnnotation: "again"}
	})
	h.mustReconcile()
	uCalls(t, h.flow, map[string]int{oauthtest.MethodRequestDeviceCode: 1})
	dl = h.dl()
	if dl.Status.UnansweredCodes != 0 || dl.Status.UserCode == "" {
		t.Errorf("after reauthorize: unansweredCodes %d userCode %q", dl.Status.UnansweredCodes, dl.Status.UserCode)
	}
	uExpectReady(t, dl, metav1.ConditionFalse, ReasonAwaitingApproval)
}

// access_denied and the provider's permanent errors end the flow: the code is dropped, one Warning
// event, and nothing is asked or written until the reauthorize annotation changes.
func TestUnitFlowEnds(t *testing.T) {
	tests := []struct {
		code, reason string
	}{
		{"access_denied", ReasonAccessDenied},
		{"authorization_declined", ReasonAccessDenied},
		{"invalid_client", ReasonProviderError},
		{"unsupported_grant_type", ReasonProviderError},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			h := newUHarness(t)
			h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
				return nil, uOAuthErr(tt.code)
			}
			h.mustReconcile()
			h.stepTo(h.nextPollAt())
			res := h.mustReconcile()

			dl := h.dl()
			c := uExpectReady(t, dl, metav1.ConditionFalse, tt.reason)
			if !strings.Contains(c.Message, authv1alpha1.ReauthorizeAnnotation) {
				t.Errorf("Ready message %q does not say how to go on", c.Message)
			}
			if ev := h.eventsWith(tt.reason); len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning "+tt.reason) {
				t.Errorf("%s events = %q", tt.reason, h.allEvents())
			}
			if dl.Status.UserCode != "" || dl.Status.NextPollTime != nil || dl.Status.ConsecutiveFailures != 0 {
				t.Errorf("status keeps the flow: %+v", dl.Status)
			}
			if h.mustSecret(uStateName).Data[keyDeviceCode] != nil {
				t.Error("state Secret keeps the device code")
			}
			if res.RequeueAfter != 0 {
				t.Logf("early wake: RequeueAfter = %s after the flow ended (nothing is due)", res.RequeueAfter)
			}

			h.resetCounts()
			for range 6 {
				h.clock.Step(time.Minute)
				res = h.mustReconcile()
			}
			if res.RequeueAfter != 0 {
				t.Errorf("RequeueAfter = %s after the flow ended, want none", res.RequeueAfter)
			}
			uCalls(t, h.flow, nil)
			if w := h.writeCount(); w != 0 || len(h.allEvents()) != 0 {
				t.Errorf("after the flow ended: writes %v, events %q", h.traceSnapshot(), h.allEvents())
			}
			uExpectReady(t, h.dl(), metav1.ConditionFalse, tt.reason)
		})
	}
}
