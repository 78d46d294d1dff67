package controllers

import (
	"context"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
)

// TestClockSkewRefreshesBeforeTheTokensOwnExp: a provider whose clock differs from the node's
// stamps exp on its JWT access tokens with its own clock, and resource servers check that exp.
// Whichever way the clocks differ, the refresh comes before both that exp and expires_in.
func TestClockSkewRefreshesBeforeTheTokensOwnExp(t *testing.T) {
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
			h := newOutageHarness(t)
			h.flow.RequestDeviceCodeFn = func(context.Context, oauth.ClientConfig, oauth.DeviceRequest) (*oauth.DeviceAuthorization, error) {
				return &oauth.DeviceAuthorization{DeviceCode: "dc", UserCode: "ABCD-EFGH", VerificationURI: "https://idp.test/device",
					ExpiresIn: 10 * time.Minute, Interval: 5 * time.Second}, nil
			}
			var exp time.Time
			h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
				providerNow := h.clock.Now().Add(tt.skew)
				exp = providerNow.Add(time.Hour).Truncate(time.Second)
				return &oauth.Token{AccessToken: jwt(exp), TokenType: "Bearer", RefreshToken: "rt", ExpiresIn: time.Hour}, nil
			}
			h.flow.SubjectFn = func(context.Context, oauth.ClientConfig, *oauth.Token) (string, error) { return "", nil }
			h.clock.Step(h.reconcile())
			issued := h.clock.Now()
			h.reconcile()
			var dl authv1alpha1.DeviceLogin
			if err := h.client.Get(context.Background(), types.NamespacedName{Namespace: "team", Name: "bot"}, &dl); err != nil {
				t.Fatal(err)
			}
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
