// Package oauthtest provides a fake oauth.DeviceFlow for controller tests, so that they can play
// any provider answer without HTTP.
package oauthtest

import (
	"context"
	"fmt"
	"sync"

	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
)

// Method names, as Calls takes them.
const (
	MethodRequestDeviceCode = "RequestDeviceCode"
	MethodPollToken         = "PollToken"
	MethodRefresh           = "Refresh"
	MethodRevoke            = "Revoke"
	MethodSubject           = "Subject"
)

// FakeFlow implements oauth.DeviceFlow with function fields, in the style of cert-manager's
// pkg/acme/client/fake.go: each method counts the call, then calls its field. A nil field gives a
// sensible default: RequestDeviceCode, PollToken and Refresh fail with an error naming the unset
// field (a test that reaches them did not expect to), Revoke succeeds (there is nothing to revoke
// without an endpoint) and Subject returns "" (the provider does not say who approved).
//
// The counters are safe for concurrent use; the function fields must not be changed while a
// method may be running.
type FakeFlow struct {
	RequestDeviceCodeFn func(ctx context.Context, cfg oauth.ClientConfig, req oauth.DeviceRequest) (*oauth.DeviceAuthorization, error)
	PollTokenFn         func(ctx context.Context, cfg oauth.ClientConfig, deviceCode string) (*oauth.Token, error)
	RefreshFn           func(ctx context.Context, cfg oauth.ClientConfig, refreshToken string) (*oauth.Token, error)
	RevokeFn            func(ctx context.Context, cfg oauth.ClientConfig, token, tokenTypeHint string) error
	SubjectFn           func(ctx context.Context, cfg oauth.ClientConfig, tok *oauth.Token) (string, error)

	mu    sync.Mutex
	calls map[string]int
}

var _ oauth.DeviceFlow = (*FakeFlow)(nil)

// notSet is the error of a method whose function field is nil.
func notSet(method string) error {
	return fmt.Errorf("oauthtest: FakeFlow.%sFn is not set", method)
}

func (f *FakeFlow) count(method string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[method]++
}

// Calls returns how many times the named method (e.g. MethodPollToken, "PollToken") was called.
func (f *FakeFlow) Calls(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

// TotalCalls returns how many times any method was called.
func (f *FakeFlow) TotalCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

// ResetCalls sets every counter back to zero.
func (f *FakeFlow) ResetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

// RequestDeviceCode calls RequestDeviceCodeFn.
func (f *FakeFlow) RequestDeviceCode(ctx context.Context, cfg oauth.ClientConfig, req oauth.DeviceRequest) (*oauth.DeviceAuthorization, error) {
	f.count(MethodRequestDeviceCode)
	if f.RequestDeviceCodeFn == nil {
		return nil, notSet(MethodRequestDeviceCode)
	}
	return f.RequestDeviceCodeFn(ctx, cfg, req)
}

// PollToken calls PollTokenFn.
func (f *FakeFlow) PollToken(ctx context.Context, cfg oauth.ClientConfig, deviceCode string) (*oauth.Token, error) {
	f.count(MethodPollToken)
	if f.PollTokenFn == nil {
		return nil, notSet(MethodPollToken)
	}
	return f.PollTokenFn(ctx, cfg, deviceCode)
}

// Refresh calls RefreshFn.
func (f *FakeFlow) Refresh(ctx context.Context, cfg oauth.ClientConfig, refreshToken string) (*oauth.Token, error) {
	f.count(MethodRefresh)
	if f.RefreshFn == nil {
		return nil, notSet(MethodRefresh)
	}
	return f.RefreshFn(ctx, cfg, refreshToken)
}

// Revoke calls RevokeFn; without one it succeeds.
func (f *FakeFlow) Revoke(ctx context.Context, cfg oauth.ClientConfig, token, tokenTypeHint string) error {
	f.count(MethodRevoke)
	if f.RevokeFn == nil {
		return nil
	}
	return f.RevokeFn(ctx, cfg, token, tokenTypeHint)
}

// Subject calls SubjectFn; without one nobody is named.
func (f *FakeFlow) Subject(ctx context.Context, cfg oauth.ClientConfig, tok *oauth.Token) (string, error) {
	f.count(MethodSubject)
	if f.SubjectFn == nil {
		return "", nil
	}
	return f.SubjectFn(ctx, cfg, tok)
}
