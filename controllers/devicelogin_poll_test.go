package controllers

// Tests of the poll bookkeeping (devicelogin_poll.go): when the pending code is polled, what each
// answer does to the interval and the next poll, slow_down against a strict server, the poll
// margin, and the backoff of transient failures. Harness: harness_unit_test.go.

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

// A reconcile before the booked poll asks and writes nothing; at the booked time one poll, and an
// authorization_pending answer writes nothing either.
func TestUnitPollNotBeforeNextPollTime(t *testing.T) {
	h := newUHarness(t)
	h.mustReconcile()
	before := h.rvs()
	next := h.nextPollAt()
	h.resetCounts()

	h.clock.Step(3 * time.Second) // 18:15:03.25, before 18:15:05.25
	res := h.mustReconcile()
	uCalls(t, h.flow, nil)
	if after := h.rvs(); after != before {
		t.Errorf("resourceVersions (DeviceLogin, state, token) %v -> %v: a reconcile before nextPollTime wrote", before, after)
	}
	if w := h.writeCount(); w != 0 {
		t.Errorf("%d write(s) before nextPollTime: %v", w, h.traceSnapshot())
	}
	if want := next.Sub(h.clock.Now()); res.RequeueAfter != want {
		t.Errorf("RequeueAfter = %s, want %s", res.RequeueAfter, want)
	}
	if len(h.allEvents()) != 0 {
		t.Errorf("events %q", h.allEvents())
	}

	// Exactly at the booked time: one poll, and for authorization_pending no API write at all
	// (issue 12: waiting codes cost the API server nothing).
	h.stepTo(next)
	h.mustReconcile()
	uCalls(t, h.flow, map[string]int{oauthtest.MethodPollToken: 1})
	if tr := h.traceSnapshot(); len(tr) != 0 {
		t.Errorf("writes of an authorization_pending poll = %v, want none", tr)
	}
	h.mustReconcile()
	uCalls(t, h.flow, map[string]int{oauthtest.MethodPollToken: 1})
}

// The next poll is counted from when the provider's answer arrived, not from when the request
// left: a provider counts from when it received the request, so a slow request must not make the
// next poll early by the provider's clock (a strict provider answers that with slow_down).
func TestUnitPollCountsFromTheAnswer(t *testing.T) {
	h := newUHarness(t)
	h.flow.RequestDeviceCodeFn = func(context.Context, oauth.ClientConfig, oauth.DeviceRequest) (*oauth.DeviceAuthorization, error) {
		h.clock.Step(300 * time.Millisecond) // the answer takes a while
		return uCode(1, 5*time.Minute, 5*time.Second), nil
	}
	h.mustReconcile()
	if want := uStart.Add(300 * time.Millisecond).Add(5 * time.Second); !h.nextPollAt().Equal(want) {
		t.Errorf("first poll at %s, want %s (the answer plus the interval)", h.nextPollAt(), want)
	}
	h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
		h.clock.Step(400 * time.Millisecond)
		return nil, uOAuthErr("authorization_pending")
	}
	h.stepTo(h.nextPollAt())
	h.mustReconcile()
	if want := h.clock.Now().Add(5 * time.Second); !h.nextPollAt().Equal(want) {
		t.Errorf("next poll at %s, want %s (the answer plus the interval)", h.nextPollAt(), want)
	}
}

// Each answer to a poll sets the interval in force and the next poll (slow_down, 429 with and
// without Retry-After, 503), keeps the code, and the interval stays in force for the next poll.
func TestUnitPollAnswers(t *testing.T) {
	// The first poll happens at 18:15:06.25, a second after the booked 18:15:05.25.
	pollAt := uStart.Add(6 * time.Second)
	tests := []struct {
		name         string
		err          error
		wantInterval int32
		// the next poll is booked within [now+minNext, now+maxNext], rounded up
		minNext, maxNext time.Duration
		wantFailures     int32
		wantProviderErr  int
	}{
		{name: "authorization_pending", err: uOAuthErr("authorization_pending"), wantInterval: 5, minNext: 5 * time.Second, maxNext: 5 * time.Second},
		{name: "slow_down", err: uOAuthErr("slow_down"), wantInterval: 10, minNext: 10 * time.Second, maxNext: 10 * time.Second},
		{name: "slow_down with a larger interval", err: &oauth.Error{Code: "slow_down", StatusCode: 400, Interval: 20 * time.Second},
			wantInterval: 20, minNext: 20 * time.Second, maxNext: 20 * time.Second},
		{name: "slow_down with a smaller interval", err: &oauth.Error{Code: "slow_down", StatusCode: 400, Interval: 7 * time.Second},
			wantInterval: 10, minNext: 10 * time.Second, maxNext: 10 * time.Second},
		{name: "HTTP 429", err: &oauth.TransientError{Reason: "HTTP 429", StatusCode: 429},
			wantInterval: 10, minNext: 10 * time.Second, maxNext: 10 * time.Second, wantFailures: 1, wantProviderErr: 1},
		{name: "HTTP 429 with Retry-After", err: &oauth.TransientError{Reason: "HTTP 429", StatusCode: 429, RetryAfter: 30 * time.Second},
			wantInterval: 10, minNext: 30 * time.Second, maxNext: 30 * time.Second, wantFailures: 1, wantProviderErr: 1},
		{name: "HTTP 503", err: &oauth.TransientError{Reason: "HTTP 503", StatusCode: 503},
			wantInterval: 5, minNext: 5 * time.Second, maxNext: 6 * time.Second, wantFailures: 1, wantProviderErr: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newUHarness(t)
			h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) { return nil, tt.err }
			h.mustReconcile()
			h.stepTo(pollAt)
			res := h.mustReconcile()
			uCalls(t, h.flow, map[string]int{oauthtest.MethodRequestDeviceCode: 1, oauthtest.MethodPollToken: 1})

			dl := h.dl()
			st := dl.Status
			if st.PollInterval != tt.wantInterval {
				t.Errorf("pollInterval = %d, want %d", st.PollInterval, tt.wantInterval)
			}
			if st.ConsecutiveFailures != tt.wantFailures {
				t.Errorf("consecutiveFailures = %d, want %d", st.ConsecutiveFailures, tt.wantFailures)
			}
			lo, hi := pollAt.Add(tt.minNext), pollAt.Add(tt.maxNext)
			if next := h.nextPollAt(); next.Before(lo) || next.After(hi) {
				t.Errorf("next poll at %s, want within [%s, %s]", next, lo, hi)
			} else {
				uRequeueNotLate(t, res, next.Sub(pollAt), "the next poll")
			}
			if got := len(h.eventsWith(ReasonProviderError)); got != tt.wantProviderErr {
				t.Errorf("ProviderError events = %d, want %d: %q", got, tt.wantProviderErr, h.allEvents())
			}
			c := uExpectReady(t, dl, metav1.ConditionFalse, ReasonAwaitingApproval)
			if tt.wantFailures > 0 && !strings.Contains(c.Message, "The last 1 token request(s) failed; retrying at "+timestamp(st.NextPollTime.Time)) {
				t.Errorf("Ready message %q does not tell of the failure", c.Message)
			}
			if st.UserCode != "WDJB-0001" {
				t.Errorf("userCode = %q: the code must survive %s", st.UserCode, tt.name)
			}

			// The interval in force is persisted: the next poll, answered authorization_pending,
			// books the one after that with the same interval.
			h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
				return nil, uOAuthErr("authorization_pending")
			}
			h.stepTo(h.nextPollAt())
			now := h.clock.Now()
			h.mustReconcile()
			st2 := h.dl().Status
			if st2.PollInterval != tt.wantInterval {
				t.Errorf("pollInterval after the next poll = %d, want %d", st2.PollInterval, tt.wantInterval)
			}
			if next, want := h.nextPollAt(), now.Add(time.Duration(tt.wantInterval)*time.Second); !next.Equal(want) {
				t.Errorf("next poll after the next poll at %s, want %s", next, want)
			}
			if st2.ConsecutiveFailures != 0 {
				t.Errorf("consecutiveFailures after authorization_pending = %d, want 0", st2.ConsecutiveFailures)
			}
		})
	}
}

// Issue 10 item 2: a strict server that enforces 5 s (and 5 s more after every slow_down) while
// the client believed 1 s. The client catches up within a few slow_downs, and the approved code
// yields its token.
func TestUnitPollSlowDownCatchesUpWithStrictServer(t *testing.T) {
	h := newUHarness(t)
	h.flow.RequestDeviceCodeFn = func(context.Context, oauth.ClientConfig, oauth.DeviceRequest) (*oauth.DeviceAuthorization, error) {
		return uCode(1, 30*time.Minute, time.Second), nil
	}
	approvedAt := uStart.Add(2 * time.Minute)
	serverInterval, last := 5*time.Second, uStart
	slowDowns, polls := 0, 0
	h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
		now := h.clock.Now()
		polls++
		if now.Sub(last) < serverInterval {
			serverInterval += 5 * time.Second
			last = now
			slowDowns++
			return nil, uOAuthErr("slow_down")
		}
		last = now
		if now.Before(approvedAt) {
			return nil, uOAuthErr("authorization_pending")
		}
		return uToken(1, uLife), nil
	}
	h.mustReconcile()
	var clientInterval int32
	for i := 0; i < 60 && h.dl().Status.UserCode != ""; i++ {
		clientInterval = h.dl().Status.PollInterval
		h.stepTo(h.nextPollAt())
		h.mustReconcile()
	}
	t.Logf("MEASURE %d polls, %d slow_down, server interval %s, client interval %ds", polls, slowDowns, serverInterval, clientInterval)
	if slowDowns > 3 {
		t.Errorf("%d slow_down answers: the client never caught up with the server's interval", slowDowns)
	}
	if got := string(h.mustSecret(uStateName).Data[KeyAccessToken]); got != "ACCESS-TOKEN-1" {
		t.Fatalf("state access_token = %q: the approved code never yielded its token", got)
	}
	uExpectReady(t, h.dl(), metav1.ConditionTrue, ReasonAuthorized)
}

// Quirks.PollMargin is added once, by oauth.Client; the controller uses the interval as given.
func TestUnitPollMarginCountedOnce(t *testing.T) {
	h := newUHarness(t, func(s *uSetup) { s.provider.Spec.Preset = authv1alpha1.PresetSentry })
	var margin time.Duration
	h.flow.RequestDeviceCodeFn = func(_ context.Context, cfg oauth.ClientConfig, _ oauth.DeviceRequest) (*oauth.DeviceAuthorization, error) {
		margin = cfg.Quirks.PollMargin
		// As oauth.Client returns it: "The returned Interval already includes Quirks.PollMargin."
		return uCode(1, 5*time.Minute, 5*time.Second+cfg.Quirks.PollMargin), nil
	}
	h.mustReconcile()
	if margin != time.Second {
		t.Fatalf("Sentry's PollMargin = %s, want 1s", margin)
	}
	st := h.dl().Status
	if st.PollInterval != 6 {
		t.Errorf("pollInterval = %d, want 6 (5s from the provider plus the 1s margin)", st.PollInterval)
	}
	if want := uStart.Add(6 * time.Second); !h.nextPollAt().Equal(want) {
		t.Errorf("next poll at %s, want %s: the 1s margin is counted once", h.nextPollAt(), want)
	}
	h.stepTo(h.nextPollAt())
	now := h.clock.Now()
	h.mustReconcile()
	if want := now.Add(6 * time.Second); !h.nextPollAt().Equal(want) {
		t.Errorf("after a poll the next one is at %s, want %s (margin counted once)", h.nextPollAt(), want)
	}
}

// Transient poll failures back off from the 5s interval to the 5m cap, with ±20% jitter, never
// sooner than the interval; one event tells of them, and the first good answer forgets them.
func TestUnitPollTransientFailuresBackOff(t *testing.T) {
	// The next poll after the n-th failure in a row: backoff's 5s doubled, capped at 5m, ±20%, no
	// sooner than the 5s interval, plus up to a second of rounding up. Written out, so that a
	// changed backoffBase or backoffCap fails here.
	within := []struct{ lo, hi time.Duration }{
		1: {5 * time.Second, 7 * time.Second},
		2: {8 * time.Second, 13 * time.Second},
		3: {16 * time.Second, 25 * time.Second},
		4: {32 * time.Second, 49 * time.Second},
		5: {64 * time.Second, 97 * time.Second},
		6: {128 * time.Second, 193 * time.Second},
		7: {4 * time.Minute, 6*time.Minute + time.Second},
		8: {4 * time.Minute, 6*time.Minute + time.Second},
		9: {4 * time.Minute, 6*time.Minute + time.Second},
	}
	h := newUHarness(t)
	h.flow.RequestDeviceCodeFn = func(context.Context, oauth.ClientConfig, oauth.DeviceRequest) (*oauth.DeviceAuthorization, error) {
		return uCode(1, time.Hour, 5*time.Second), nil
	}
	h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
		return nil, &oauth.TransientError{Reason: "connection refused"}
	}
	h.mustReconcile()
	for n := int32(1); n <= 9; n++ {
		h.stepTo(h.nextPollAt())
		now := h.clock.Now()
		res := h.mustReconcile()
		st := h.dl().Status
		if st.ConsecutiveFailures != n {
			t.Fatalf("after failure %d: consecutiveFailures = %d", n, st.ConsecutiveFailures)
		}
		lo, hi := within[n].lo, within[n].hi
		if d := h.nextPollAt().Sub(now); d < lo || d > hi {
			t.Errorf("after failure %d: next poll in %s, want within [%s, %s]", n, d, lo, hi)
		}
		uRequeueNotLate(t, res, h.nextPollAt().Sub(now), "the next poll")
		if st.PollInterval != 5 {
			t.Errorf("after failure %d: pollInterval = %d, want 5 (only 429 raises it)", n, st.PollInterval)
		}
	}
	if got := h.eventsWith(ReasonProviderError); len(got) != 1 {
		t.Errorf("ProviderError events over 9 failures = %q, want exactly one", got)
	}
	uCalls(t, h.flow, map[string]int{oauthtest.MethodRequestDeviceCode: 1, oauthtest.MethodPollToken: 9})

	// Back to normal: the failures are forgotten, the interval is the provider's again.
	h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
		return nil, uOAuthErr("authorization_pending")
	}
	h.stepTo(h.nextPollAt())
	now := h.clock.Now()
	h.mustReconcile()
	st := h.dl().Status
	if st.ConsecutiveFailures != 0 {
		t.Errorf("consecutiveFailures after authorization_pending = %d", st.ConsecutiveFailures)
	}
	if next, want := h.nextPollAt(), now.Add(5*time.Second); !next.Equal(want) {
		t.Errorf("next poll at %s, want %s", next, want)
	}
	c := uExpectReady(t, h.dl(), metav1.ConditionFalse, ReasonAwaitingApproval)
	if strings.Contains(c.Message, "failed") {
		t.Errorf("Ready message still tells of failures: %q", c.Message)
	}
}

// How many token requests a provider that is down for ten minutes receives while a user code is
// pending: backoff to the 5-minute cap, about 7 (every 5s would be 120); the pending code is kept,
// and the first good answer forgets the failures.
func TestUnitPollOutageRequestCount(t *testing.T) {
	h := newUHarness(t)
	h.flow.RequestDeviceCodeFn = func(context.Context, oauth.ClientConfig, oauth.DeviceRequest) (*oauth.DeviceAuthorization, error) {
		return uCode(1, 30*time.Minute, 5*time.Second), nil
	}
	h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
		return nil, &oauth.TransientError{Reason: "connection refused"}
	}
	h.clock.Step(h.mustReconcile().RequeueAfter) // the code is issued; the outage starts now
	reconciles := h.runFor(10 * time.Minute)
	polls := h.flow.Calls(oauthtest.MethodPollToken)
	t.Logf("MEASURE 10-minute outage with a code pending: %d token requests, %d reconciles (interval 5s would be 120)", polls, reconciles)
	if polls > 12 || polls < 5 {
		t.Fatalf("%d token requests in a 10-minute outage; want exponential backoff to the 5-minute cap (about 7)", polls)
	}
	if got := h.flow.Calls(oauthtest.MethodRequestDeviceCode); got != 1 {
		t.Fatalf("%d device codes requested; the pending one is still valid", got)
	}
	h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
		return nil, uOAuthErr("authorization_pending")
	}
	h.clock.Step(h.mustReconcile().RequeueAfter)
	h.mustReconcile()
	if n := h.dl().Status.ConsecutiveFailures; n != 0 {
		t.Fatalf("consecutiveFailures = %d after the provider came back; want 0", n)
	}
}
