package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/devicelogin-dev/devicelogin-operator/internal/testidp"
)

func TestApprovalOffsets(t *testing.T) {
	lo, hi := 500*time.Millisecond, 4500*time.Millisecond
	a := approvalOffsets(7, 1000, lo, hi)
	b := approvalOffsets(7, 1000, lo, hi)
	c := approvalOffsets(8, 1000, lo, hi)
	var sum time.Duration
	same := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("offset %d differs for the same seed", i)
		}
		if a[i] < lo || a[i] >= hi {
			t.Fatalf("offset %d = %v outside [%v, %v)", i, a[i], lo, hi)
		}
		if a[i] == c[i] {
			same++
		}
		sum += a[i]
	}
	if same > 10 {
		t.Errorf("another seed gave %d equal offsets", same)
	}
	if m := sum / 1000; m < 2300*time.Millisecond || m > 2700*time.Millisecond {
		t.Errorf("mean offset %v, want about 2.5 s for a uniform draw", m)
	}
}

// deviceAuthorization asks idp for a code with scope, as a client would.
func deviceAuthorization(t *testing.T, idp *testidp.Server, scope string) {
	t.Helper()
	resp, err := http.PostForm(idp.DeviceAuthorizationURL(), url.Values{"client_id": {"test-client"}, "scope": {scope}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("device authorization: HTTP %d", resp.StatusCode)
	}
}

func TestApproverApprovesListedScopesAtTheirOffsets(t *testing.T) {
	idp := testidp.New(testidp.Options{})
	defer idp.Close()
	offsets := []time.Duration{150 * time.Millisecond, 50 * time.Millisecond}
	a := newApprover(idp, map[string][]time.Duration{"x": offsets})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.run(ctx)

	for _, scope := range []string{"x", "y", "x"} {
		deviceAuthorization(t, idp, scope)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		tls := idp.CodeTimelines()
		if !tls[0].ApprovedAt.IsZero() && !tls[2].ApprovedAt.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("codes not approved within 20 s: %+v", tls)
		}
		time.Sleep(10 * time.Millisecond)
	}
	a.scheduleNew()
	tls := idp.CodeTimelines()
	for i, k := range map[int]int{0: 0, 2: 1} {
		if got := tls[i].ApprovedAt.Sub(tls[i].IssuedAt); got < offsets[k] {
			t.Errorf("code %d approved %v after issuance, before its offset %v", i, got, offsets[k])
		}
	}
	a.mu.Lock()
	scheduled := a.scheduled
	a.mu.Unlock()
	if !tls[1].ApprovedAt.IsZero() || scheduled != 2 {
		t.Errorf("an unlisted scope was approved or scheduled (%d scheduled)", scheduled)
	}
	if errs := a.errors(); len(errs) != 0 {
		t.Errorf("approval errors: %v", errs)
	}
	if strings.Contains(tls[1].Scope, "x") {
		t.Fatalf("scopes mixed up: %+v", tls)
	}
}
