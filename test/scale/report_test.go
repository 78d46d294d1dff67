package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// goodRun meets every goal at N=2.
func goodRun() *results {
	ms := time.Millisecond
	return &results{
		N: 2, Commit: "abc1234", Interval: 5 * time.Second, TokenLifetime: 10 * time.Minute,
		Op:               clientFigures{Codes: 2, Excess: []time.Duration{100 * ms, 400 * ms}, ApprovalToToken: []time.Duration{time.Second, 2 * time.Second}, Polls: 2},
		Naive:            clientFigures{Codes: 2, Excess: []time.Duration{10 * ms, 20 * ms}, ApprovalToToken: []time.Duration{time.Second, time.Second}, Polls: 2},
		NaiveTokens:      2,
		CreateToUserCode: []time.Duration{time.Second, 4 * time.Second},
		Secrets:          2,
		FlowsRequests:    requestCounts{"GET": 4, "POST": 8},
		IdleWindow:       20 * time.Second, IdleRequests: requestCounts{},
		PendingWindow: 30 * time.Second, PendingRequests: requestCounts{"GET": 1}, PendingCodes: 2,
		PendingTraffic:  providerTraffic{Polls: 12},
		RefreshRequests: requestCounts{"PUT": 2, "POST": 2, "PATCH": 2, "GET": 10}, Refreshes: 2,
		RefreshGrants: 2, RefreshedGrants: 2, RefreshBusiestAligned: 0, RefreshBusiestWall: 1,
		RSSFlows: 40 << 20, RSSRefresh: 50 << 20, RSSPending: 70 << 20, RSSReset: true,
		RSSRestart: 40 << 20, RSSRestartUnrelated: 43 << 20, UnrelatedSecrets: 5000,
		CPU: []phaseCPU{{"flows", 1.5}, {"idle", 0}},
	}
}

func verdicts(r *results) map[string]string {
	out := map[string]string{}
	for _, x := range r.rows() {
		out[x.Figure] = x.Met
	}
	return out
}

func TestReportAllMet(t *testing.T) {
	r := goodRun()
	r.RefreshBusiestAligned = 0 // 0 of 2 in the busiest window is not possible, but it is within the goal
	for fig, v := range verdicts(r) {
		if v == "not met" {
			t.Errorf("%q not met in a run that meets every goal", fig)
		}
	}
}

func TestReportEachGoalCanFail(t *testing.T) {
	for name, spoil := range map[string]func(*results){
		"excess over the RFC floor, p99":                                          func(r *results) { r.Op.Excess[1] = 501 * time.Millisecond },
		"create to user code in status, p99":                                      func(r *results) { r.CreateToUserCode[1] = 5 * time.Second },
		"tokens delivered":                                                        func(r *results) { r.Secrets = 1 },
		"user codes issued":                                                       func(r *results) { r.Op.Codes = 3 },
		"early polls (slow_down earned)":                                          func(r *results) { r.Op.EarlyPolls = 1 },
		"API requests per pending poll (2 codes, 30.00 s)":                        func(r *results) { r.PendingRequests["PATCH"] = 1 },
		"API requests per refresh (2 refreshes)":                                  func(r *results) { r.RefreshRequests["PUT"] = 5 },
		"API requests with nothing due (20.00 s after the flows)":                 func(r *results) { r.IdleRequests["GET"] = 1 },
		"manager peak RSS, 2 logins (flows and refresh phases)":                   func(r *results) { r.RSSRefresh = 65 << 20 },
		"manager peak RSS after a restart, without → with 5000 unrelated Secrets": func(r *results) { r.RSSRestartUnrelated = 45 << 20 },
		"refresh spread: most first refreshes in 5 s, tokens aligned on issuance": func(r *results) { r.RefreshBusiestAligned = 2 },
	} {
		r := goodRun()
		spoil(r)
		v, ok := verdicts(r)[name]
		if !ok {
			t.Fatalf("no row %q", name)
		}
		if v != "not met" {
			t.Errorf("%q: %s after spoiling it", name, v)
		}
	}
}

func TestReportUnmeasuredIsNotMet(t *testing.T) {
	r := &results{N: 1000}
	for fig, v := range verdicts(r) {
		if v == "met" {
			t.Errorf("%q met in a run that measured nothing", fig)
		}
	}
}

func TestReportWrite(t *testing.T) {
	var buf bytes.Buffer
	r := goodRun()
	r.note("something happened")
	r.write(&buf)
	out := buf.String()
	for _, want := range []string{
		"| figure | operator | naive client | goal (issue 12) | met |",
		"| excess over the RFC floor, p99 | 0.40 s | 0.02 s | ≤ 0.50 s | met |",
		"| API requests per refresh (2 refreshes) | 8.00 (GET 5.00, PATCH 1.00, POST 1.00, PUT 1.00); writes 3.00 |",
		"| API requests with nothing due (20.00 s after the flows) | 0 | – | 0 | met |",
		"40.0 MiB → 43.0 MiB (+7.5%)",
		"flows 1.5, idle 0.0",
		"- something happened",
		"manager built from commit abc1234",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n| "); n != len(r.rows())+1 {
		t.Errorf("%d table lines, want %d", n, len(r.rows())+1)
	}
}
