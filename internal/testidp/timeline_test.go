package testidp

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestCodeTimelines(t *testing.T) {
	fc := fakeClock()
	s := start(t, Options{Clock: fc})
	t0 := fc.Now()
	a := authorize(t, s, "bench.a openid")
	fc.Step(time.Second)
	b := authorize(t, s, "bench.b")

	fc.Step(5 * time.Second) // a: 6 s after issue
	wantError(t, poll(t, s, a.code), 400, "authorization_pending")
	wantError(t, poll(t, s, b.code), 400, "authorization_pending")
	fc.Step(time.Second)
	wantError(t, poll(t, s, b.code), 400, "slow_down") // 1 s after its last poll: early
	fc.Step(500 * time.Millisecond)
	if err := s.Approve(a.user, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	approved := fc.Now()
	fc.Step(4 * time.Second) // 5.5 s after a's last poll
	tok := poll(t, s, a.code)
	wantOK(t, tok)
	answered := fc.Now()
	s.ForceSlowDown(1)
	fc.Step(20 * time.Second)
	wantError(t, poll(t, s, b.code), 400, "slow_down") // forced, not early
	fc.Step(6 * time.Second)
	wantError(t, poll(t, s, a.code), 400, "invalid_grant") // spent: FirstTokenAt stays

	fc.Step(time.Minute)
	r1 := refresh(t, s, tok.str("refresh_token"), nil)
	wantOK(t, r1)
	first := fc.Now()
	fc.Step(time.Minute)
	wantError(t, refresh(t, s, tok.str("refresh_token"), nil), 400, "invalid_grant") // rotated away: not a refresh
	wantOK(t, refresh(t, s, r1.str("refresh_token"), nil))
	second := fc.Now()

	got := s.CodeTimelines()
	want := []CodeTimeline{
		{UserCode: a.user, Scope: "bench.a openid", IssuedAt: t0, ApprovedAt: approved, FirstTokenAt: answered,
			Polls: 3, Refreshes: []time.Time{first, second}},
		{UserCode: b.user, Scope: "bench.b", IssuedAt: t0.Add(time.Second), Polls: 3, EarlyPolls: 1},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("timelines\n got %+v\nwant %+v", got, want)
	}

	// A copy: changing it does not change the provider's record.
	got[0].Refreshes[0] = time.Time{}
	if again := s.CodeTimelines(); !again[0].Refreshes[0].Equal(first) {
		t.Errorf("CodeTimelines shares its Refreshes slice with the provider")
	}
	// Printable: no device code or token in it.
	printed := fmt.Sprintf("%+v", got)
	for _, secret := range append(append(s.DeviceCodes(), s.AccessTokens()...), s.RefreshTokens()...) {
		if strings.Contains(printed, secret) {
			t.Fatalf("a timeline carries a device code or token")
		}
	}
}

func TestCodeTimelinesEmpty(t *testing.T) {
	s := start(t, Options{})
	if got := s.CodeTimelines(); len(got) != 0 {
		t.Errorf("timelines before any code: %v", got)
	}
}
