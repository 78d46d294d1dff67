package testidp

import (
	"testing"
	"time"

	"github.com/devicelogin-dev/devicelogin-operator/internal/providersim"
)

func TestNewIsTheRFCDialect(t *testing.T) {
	s := start(t, Options{})
	if s.Provider() != providersim.RFC || s.ClientID() != "test-client" || s.VerificationURL() != s.URL()+"/device" {
		t.Errorf("provider %s, client %s, page %s", s.Provider(), s.ClientID(), s.VerificationURL())
	}
}

// TestDeprecatedForceSlowDown: the next n polls, of whichever codes, get slow_down, and each
// raises its code's interval.
func TestDeprecatedForceSlowDown(t *testing.T) {
	fc := fakeClock()
	s := start(t, Options{Interval: time.Second, Clock: fc})
	a, b := authorize(t, s, ""), authorize(t, s, "")
	s.ForceSlowDown(2)
	wantError(t, poll(t, s, a.code), 400, "slow_down")
	wantError(t, poll(t, s, b.code), 400, "slow_down")
	fc.Step(6 * time.Second)
	wantError(t, poll(t, s, a.code), 400, "authorization_pending")
	ia := info(t, s, a.user)
	if s.SlowDowns() != 2 || s.EarnedSlowDowns() != 0 || ia.ForcedSlowDowns != 1 || ia.Interval != 6*time.Second {
		t.Errorf("slow_downs %d (earned %d), code a %+v", s.SlowDowns(), s.EarnedSlowDowns(), ia)
	}
}

func TestDeprecatedInvalidateRefreshTokens(t *testing.T) {
	s := start(t, Options{})
	tok := login(t, s, "")
	s.InvalidateRefreshTokens()
	if s.IsRefreshTokenValid(tok.str("refresh_token")) {
		t.Error("refresh token still valid")
	}
	wantError(t, refresh(t, s, tok.str("refresh_token"), nil), 400, "invalid_grant")
}
