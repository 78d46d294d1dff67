package providersim

import (
	"net/http"
	"strings"
	"testing"
	"time"

	testclock "k8s.io/utils/clock/testing"
)

// TestForceSlowDownOneCodeOrAny: a code's own forced answers go to its polls only; AnyCode's to
// whichever code polls next.
func TestForceSlowDownOneCodeOrAny(t *testing.T) {
	fc := testclock.NewFakeClock(time.Now())
	s := start(t, GitLab, Options{Clock: fc})
	c, cfg := clientFor(t, s, "")
	a, err := c.RequestDeviceCode(t.Context(), cfg, oauthScopes("read_api"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.RequestDeviceCode(t.Context(), cfg, oauthScopes("read_api"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ForceSlowDown(a.UserCode, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.ForceSlowDown("nope", 1); err == nil {
		t.Error("an unknown code was accepted")
	}
	_, err = c.PollToken(t.Context(), cfg, b.DeviceCode)
	wantCode(t, err, "authorization_pending", http.StatusBadRequest)
	_, err = c.PollToken(t.Context(), cfg, a.DeviceCode)
	wantCode(t, err, "slow_down", http.StatusBadRequest)
	if err := s.ForceSlowDown(AnyCode, 1); err != nil {
		t.Fatal(err)
	}
	fc.Step(2 * time.Second)
	_, err = c.PollToken(t.Context(), cfg, b.DeviceCode)
	wantCode(t, err, "slow_down", http.StatusBadRequest)
	if s.SlowDowns() != 2 || s.EarnedSlowDowns() != 0 {
		t.Errorf("slow_downs %d, earned %d", s.SlowDowns(), s.EarnedSlowDowns())
	}
}

// TestApproveTakesTheCodeAsTyped: case, dashes and spaces do not matter (RFC 8628 section 6.1),
// in every dialect; an approval names someone.
func TestApproveTakesTheCodeAsTyped(t *testing.T) {
	s := start(t, Sentry, Options{})
	c, cfg := clientFor(t, s, "")
	d, err := c.RequestDeviceCode(t.Context(), cfg, oauthScopes("org:read"))
	if err != nil {
		t.Fatal(err)
	}
	typed := " " + strings.ToLower(strings.ReplaceAll(d.UserCode, "-", "")) + " "
	if err := s.Approve(typed, ""); err == nil {
		t.Error("an approval without an email was accepted")
	}
	if err := s.Approve(typed, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	if info, ok := s.Code(typed); !ok || info.State != CodeApproved || info.UserCode != d.UserCode {
		t.Errorf("code %+v", info)
	}
}
