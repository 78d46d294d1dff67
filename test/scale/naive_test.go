package main

import (
	"context"
	"testing"
	"time"

	"github.com/devicelogin-dev/devicelogin-operator/internal/testidp"
)

func TestRunNaive(t *testing.T) {
	idp := testidp.New(testidp.Options{Interval: time.Second, FirstPollWait: true})
	defer idp.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a := newApprover(idp, map[string][]time.Duration{scopeNaive: {100 * time.Millisecond, 500 * time.Millisecond}})
	go a.run(ctx)

	res := runNaive(ctx, idp.DeviceAuthorizationURL(), idp.TokenURL(), "test-client", 3)
	byCode := map[string]testidp.CodeTimeline{}
	for _, tl := range idp.CodeTimelines() {
		byCode[tl.UserCode] = tl
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("flow %d: %v", i, r.Err)
		}
		tl, ok := byCode[r.UserCode]
		if !ok || tl.Scope != scopeNaive {
			t.Fatalf("flow %d: code %q not issued with scope %s: %+v", i, r.UserCode, scopeNaive, tl)
		}
		if tl.EarlyPolls != 0 {
			t.Errorf("flow %d polled early %d times", i, tl.EarlyPolls)
		}
		if tl.FirstTokenAt.IsZero() || r.TokenAt.Before(tl.FirstTokenAt) || tl.FirstTokenAt.Before(tl.ApprovedAt) {
			t.Errorf("flow %d: token in hand at %v, answered at %v, approved at %v", i, r.TokenAt, tl.FirstTokenAt, tl.ApprovedAt)
		}
	}
}

func TestRunNaiveReportsFailures(t *testing.T) {
	idp := testidp.New(testidp.Options{})
	defer idp.Close()
	res := runNaive(context.Background(), idp.DeviceAuthorizationURL(), idp.TokenURL(), "someone-else", 2)
	for i, r := range res {
		if r.Err == nil || !r.TokenAt.IsZero() {
			t.Errorf("flow %d with an unknown client: %+v", i, r)
		}
	}
}
