package controllers

import (
	"context"
	"testing"
	"time"

	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
)

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
