package controllers

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// The precedence of Ready (readyFor): the blockers in their order, then the token's own state,
// then a provider that is not usable; a failed step makes a True condition Unknown.
func TestUnitReadyPrecedence(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	valid := &loginState{AccessToken: "a", Expiry: now.Add(time.Hour)}
	expired := &loginState{AccessToken: "a", Expiry: now.Add(-time.Hour)}
	pendingValid := &loginState{AccessToken: "a", Expiry: now.Add(time.Hour), DeviceCode: "d"}
	pendingOnly := &loginState{DeviceCode: "d"}
	spec := invalidSpec("bad template")
	conflict := secretConflict(&conflictError{name: "tok"})
	forbidden := &blocker{kind: blockForbidden, reason: ReasonProviderNotReady, message: "not allowed", warn: true}
	halt := halted(ReasonAccessDenied, "denied")
	notReady := providerProblem("not ready yet", false)
	failed := providerProblem("client secret missing", true)
	tests := []struct {
		name        string
		blocks      []*blocker
		st          *loginState
		userCode    string
		err         error
		served      bool
		wantStatus  metav1.ConditionStatus
		wantReason  string
		wantMessage string // a part of the message
		wantWarn    bool
	}{
		{"invalid spec first, keeping a valid token", []*blocker{halt, forbidden, conflict, spec}, valid, "", nil, false,
			metav1.ConditionFalse, ReasonInvalidSpec, "bad template; Secret tok keeps the last good token", true},
		{"secret conflict before forbidden", []*blocker{forbidden, conflict, halt, failed}, valid, "", nil, false,
			metav1.ConditionFalse, ReasonSecretConflict, "Secret tok exists and is not owned", true},
		{"forbidden before a halt", []*blocker{halt, forbidden}, valid, "", nil, false,
			metav1.ConditionFalse, ReasonProviderNotReady, "not allowed", true},
		{"a halt stays True while the token is valid", []*blocker{halt, failed}, valid, "", nil, false,
			metav1.ConditionTrue, ReasonAccessDenied, "denied", false},
		{"a halt without a valid token", []*blocker{halt}, expired, "", nil, false,
			metav1.ConditionFalse, ReasonAccessDenied, "denied", false},
		{"a valid token and a pending code outrank the provider", []*blocker{failed}, pendingValid, "U", nil, false,
			metav1.ConditionTrue, ReasonReauthorizationRequired, "Visit", false},
		{"a valid token outranks the provider", []*blocker{failed}, valid, "", nil, false,
			metav1.ConditionTrue, ReasonAuthorized, "holds an access token", false},
		{"a pending code outranks the provider", []*blocker{failed}, pendingOnly, "U", nil, false,
			metav1.ConditionFalse, ReasonAwaitingApproval, "enter code U", false},
		{"a failed provider warns", []*blocker{failed}, expired, "", nil, false,
			metav1.ConditionFalse, ReasonProviderNotReady, "client secret missing", true},
		{"a provider not resolved yet does not warn", []*blocker{notReady}, &loginState{}, "", nil, false,
			metav1.ConditionFalse, ReasonProviderNotReady, "not ready yet", false},
		{"an expired token", nil, expired, "", nil, false,
			metav1.ConditionFalse, ReasonReauthorizationRequired, "expired at", false},
		{"nothing yet", nil, &loginState{}, "", nil, false,
			metav1.ConditionFalse, ReasonAwaitingApproval, "Requesting a user code from OAuthProvider p", false},
		{"a failed step makes True Unknown", nil, valid, "", errors.New("boom"), false,
			metav1.ConditionUnknown, ReasonReconcileError, "Could not confirm that Secret tok holds the current token: boom", false},
		{"unless the token Secret was confirmed", nil, valid, "", errors.New("boom"), true,
			metav1.ConditionTrue, ReasonAuthorized, "holds an access token", false},
		{"a failed step leaves False alone", []*blocker{halt}, expired, "", errors.New("boom"), false,
			metav1.ConditionFalse, ReasonAccessDenied, "denied", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dl := &authv1alpha1.DeviceLogin{ObjectMeta: metav1.ObjectMeta{Name: "dl"}}
			dl.Spec.ProviderRef.Name = "p"
			dl.Spec.SecretName = "tok"
			dl.Status.SecretName = "tok"
			dl.Status.UserCode = tt.userCode
			f := &findings{err: tt.err, served: tt.served}
			for _, b := range tt.blocks {
				f.add(outcome{block: b}, nil)
			}
			got, ok := readyFor(f, dl, tt.st, now)
			if !ok {
				t.Fatalf("readyFor gave no condition")
			}
			if got.status != tt.wantStatus || got.reason != tt.wantReason || !strings.Contains(got.message, tt.wantMessage) || got.warn != tt.wantWarn {
				t.Errorf("Ready = %s/%s %q warn=%v, want %s/%s with %q warn=%v",
					got.status, got.reason, got.message, got.warn, tt.wantStatus, tt.wantReason, tt.wantMessage, tt.wantWarn)
			}
		})
	}
}

// A state that could not be read says nothing about the token: Ready stays as it was, unless a
// blocker found before it decides.
func TestUnitReadyWithoutState(t *testing.T) {
	dl := &authv1alpha1.DeviceLogin{ObjectMeta: metav1.ObjectMeta{Name: "dl"}}
	if got, ok := readyFor(&findings{err: errors.New("boom")}, dl, nil, time.Now()); ok {
		t.Errorf("readyFor without state = %+v, want none", got)
	}
	f := &findings{}
	f.add(outcome{block: secretConflict(&conflictError{name: "dl-devicelogin-state"}), stop: true}, nil)
	if got, ok := readyFor(f, dl, nil, time.Now()); !ok || got.reason != ReasonSecretConflict {
		t.Errorf("readyFor with a state conflict = %+v (%v), want SecretConflict", got, ok)
	}
}

// findings.add keeps the last blocker of each kind and the earliest wake, stops on stop or an
// error, and shows a conflictError returned by a step as SecretConflict.
func TestUnitFindingsAdd(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var f findings
	if f.add(outcome{block: providerProblem("first", false), wake: t0.Add(time.Minute)}, nil) {
		t.Errorf("an outcome without stop or error stopped the steps")
	}
	f.add(outcome{block: providerProblem("second", true), wake: t0.Add(time.Second)}, nil)
	f.add(outcome{wake: t0.Add(time.Hour)}, nil)
	if b := f.blocked(blockProvider); b == nil || b.message != "second" {
		t.Errorf("provider blocker = %+v, want the last one", b)
	}
	if !f.wake.Equal(t0.Add(time.Second)) {
		t.Errorf("wake = %s, want the earliest", f.wake)
	}
	if !f.add(outcome{stop: true}, nil) {
		t.Errorf("stop did not stop the steps")
	}
	err := fmt.Errorf("writing the state: %w", &conflictError{name: "dl-devicelogin-state"})
	if !f.add(outcome{}, err) || !errors.Is(f.err, err) {
		t.Errorf("an error did not stop the steps, or was not kept (%v)", f.err)
	}
	if b := f.blocked(blockConflict); b == nil || !strings.Contains(b.message, "dl-devicelogin-state") {
		t.Errorf("conflict blocker = %+v, want one for the state Secret", b)
	}
}
