package oauthtest_test

import (
	"context"
	"sync"
	"testing"

	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth/oauthtest"
)

// A FakeFlow without functions fails the requests a test did not expect, lets Revoke and Subject
// succeed, and counts every call, also concurrent ones.
func TestFakeFlowDefaults(t *testing.T) {
	f := &oauthtest.FakeFlow{}
	ctx := context.Background()
	if _, err := f.RequestDeviceCode(ctx, oauth.ClientConfig{}, oauth.DeviceRequest{}); err == nil {
		t.Error("RequestDeviceCode without a function succeeded")
	}
	if _, err := f.PollToken(ctx, oauth.ClientConfig{}, "x"); err == nil {
		t.Error("PollToken without a function succeeded")
	}
	if _, err := f.Refresh(ctx, oauth.ClientConfig{}, "x"); err == nil {
		t.Error("Refresh without a function succeeded")
	}
	if err := f.Revoke(ctx, oauth.ClientConfig{}, "x", ""); err != nil {
		t.Errorf("Revoke without a function: %v", err)
	}
	if s, err := f.Subject(ctx, oauth.ClientConfig{}, &oauth.Token{}); s != "" || err != nil {
		t.Errorf("Subject without a function = %q, %v", s, err)
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() { defer wg.Done(); _ = f.Revoke(ctx, oauth.ClientConfig{}, "x", "") }()
	}
	wg.Wait()
	if got := f.Calls(oauthtest.MethodRevoke); got != 51 {
		t.Errorf("Calls(Revoke) = %d, want 51", got)
	}
	if got := f.TotalCalls(); got != 55 {
		t.Errorf("TotalCalls = %d, want 55", got)
	}
}
