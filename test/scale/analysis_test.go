package main

import (
	"testing"
	"time"

	"github.com/devicelogin-dev/devicelogin-operator/internal/testidp"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func TestClientFiguresFrom(t *testing.T) {
	const s = time.Second
	tls := []testidp.CodeTimeline{
		// Approved 2 s after issuance, answered 5.3 s after: 0.3 s beyond the floor at 5 s.
		{UserCode: "A", Scope: scopeFlow, IssuedAt: at(0), ApprovedAt: at(2 * s), FirstTokenAt: at(5300 * time.Millisecond), Polls: 1},
		// Issued at 1 s, approved 4.5 s later, answered at 6.1 s: the floor is one interval after issuance.
		{UserCode: "B", Scope: scopeFlow, IssuedAt: at(s), ApprovedAt: at(5500 * time.Millisecond), FirstTokenAt: at(6100 * time.Millisecond), Polls: 3, EarlyPolls: 1},
		// Approved, not answered yet, token never in hand.
		{UserCode: "C", Scope: scopeFlow, IssuedAt: at(0), ApprovedAt: at(s), Polls: 1},
		// Never approved.
		{UserCode: "D", Scope: scopeFlow, IssuedAt: at(0)},
		// Another client's.
		{UserCode: "E", Scope: scopeNaive, IssuedAt: at(0), ApprovedAt: at(s), FirstTokenAt: at(5 * s)},
	}
	inHand := map[string]time.Time{"A": at(6 * s), "B": at(12 * s), "E": at(9 * s)}
	f := clientFiguresFrom(tls, scopeFlow, 5*s, inHand)
	if f.Codes != 4 || f.Polls != 5 || f.EarlyPolls != 1 || f.Unmatched != 1 {
		t.Errorf("counts %+v", f)
	}
	wantExcess := []time.Duration{300 * time.Millisecond, 100 * time.Millisecond}
	if len(f.Excess) != 2 || f.Excess[0] != wantExcess[0] || f.Excess[1] != wantExcess[1] {
		t.Errorf("excess %v, want %v", f.Excess, wantExcess)
	}
	wantA2T := []time.Duration{4 * s, 6500 * time.Millisecond}
	if len(f.ApprovalToToken) != 2 || f.ApprovalToToken[0] != wantA2T[0] || f.ApprovalToToken[1] != wantA2T[1] {
		t.Errorf("approval to token %v, want %v", f.ApprovalToToken, wantA2T)
	}
}

func TestRefreshFigures(t *testing.T) {
	const s = time.Second
	tls := []testidp.CodeTimeline{
		{Scope: scopeFlow, FirstTokenAt: at(10 * s), Refreshes: []time.Time{at(400 * s), at(800 * s)}},
		{Scope: scopeFlow, FirstTokenAt: at(20 * s), Refreshes: []time.Time{at(405 * s)}},
		{Scope: scopeFlow, FirstTokenAt: at(30 * s)},
		{Scope: scopeFlow},
		{Scope: scopeNaive, FirstTokenAt: at(0), Refreshes: []time.Time{at(300 * s)}},
	}
	wall, aligned := refreshTimes(tls, scopeFlow)
	if len(wall) != 2 || !wall[0].Equal(at(400*s)) || !wall[1].Equal(at(405*s)) {
		t.Errorf("wall %v", wall)
	}
	if len(aligned) != 2 || aligned[0].Sub(time.Time{}) != 390*s || aligned[1].Sub(time.Time{}) != 385*s {
		t.Errorf("aligned %v", aligned)
	}
	if g, r := grantsOf(tls, scopeFlow); g != 3 || r != 2 {
		t.Errorf("grants %d refreshed %d", g, r)
	}
	if n := refreshesBetween(tls, scopeFlow, at(400*s), at(500*s)); n != 2 {
		t.Errorf("refreshes in window %d, want 2", n)
	}
}

func TestTrafficBetween(t *testing.T) {
	const s = time.Second
	reqs := []testidp.Request{
		{Endpoint: testidp.EndpointToken, GrantType: testidp.DeviceGrantType, Time: at(0)},
		{Endpoint: testidp.EndpointToken, GrantType: testidp.DeviceGrantType, Time: at(s)},
		{Endpoint: testidp.EndpointToken, GrantType: "refresh_token", Time: at(2 * s)},
		{Endpoint: testidp.EndpointDevice, Time: at(3 * s)},
		{Endpoint: testidp.EndpointToken, GrantType: testidp.DeviceGrantType, Time: at(10 * s)},
	}
	got := trafficBetween(reqs, at(s), at(5*s))
	if got != (providerTraffic{Polls: 1, Refreshes: 1, NewCodes: 1}) {
		t.Errorf("traffic %+v", got)
	}
}
