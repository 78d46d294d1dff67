package providersim

import (
	"slices"
	"testing"
	"time"

	testclock "k8s.io/utils/clock/testing"
)

// TestCodeInfoFollowsACode follows one code of a vendor dialect on the provider's clock: issue,
// an early poll, approval, tokens and two refreshes.
func TestCodeInfoFollowsACode(t *testing.T) {
	fc := testclock.NewFakeClock(time.Now())
	s := start(t, Google, Options{ClientSecret: "g-secret", Clock: fc})
	c, cfg := clientFor(t, s, "g-secret")
	issued := fc.Now()
	d, err := c.RequestDeviceCode(t.Context(), cfg, oauthScopes("openid", "email"))
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := s.Code(d.UserCode); !info.Pending(s.Now()) || info.State != CodePending || !info.IssuedAt.Equal(issued) {
		t.Fatalf("new code %+v", info)
	}
	_, _ = c.PollToken(t.Context(), cfg, d.DeviceCode)
	_, _ = c.PollToken(t.Context(), cfg, d.DeviceCode) // early: slow_down
	fc.Step(time.Minute)
	if err := s.Approve(d.UserCode, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	approvedAt := fc.Now()
	fc.Step(time.Minute)
	tok, err := c.PollToken(t.Context(), cfg, d.DeviceCode)
	if err != nil {
		t.Fatal(err)
	}
	var refreshes []time.Time
	for range 2 {
		fc.Step(time.Hour)
		if _, err := c.Refresh(t.Context(), cfg, tok.RefreshToken); err != nil {
			t.Fatal(err)
		}
		refreshes = append(refreshes, fc.Now())
	}
	info, _ := s.Code(d.UserCode)
	var answers []string
	for _, p := range info.Polls {
		answers = append(answers, p.Answer)
	}
	if info.State != CodeApproved || info.Pending(s.Now()) || !info.ApprovedAt.Equal(approvedAt) || info.EarnedSlowDown != 1 ||
		!slices.Equal(answers, []string{"authorization_pending", "slow_down", "token"}) || !info.Polls[2].Time.Equal(approvedAt.Add(time.Minute)) ||
		!slices.EqualFunc(info.Refreshes, refreshes, time.Time.Equal) || info.AccessToken != tok.AccessToken {
		t.Errorf("code %+v, answers %v, refreshes %v", info, answers, refreshes)
	}
	for _, r := range s.Requests() {
		if r.Time.After(fc.Now()) || r.Time.Before(issued) {
			t.Errorf("request stamped %v, not on the provider's clock", r.Time)
		}
	}
}

// TestSecretsListsEveryKind: device codes, access, refresh and ID tokens and the client secret,
// for the leak scans.
func TestSecretsListsEveryKind(t *testing.T) {
	s := start(t, GitLab, Options{ClientSecret: "gl-secret"})
	c, cfg := clientFor(t, s, "gl-secret")
	tok := approved(t, s, c, cfg, "openid", "email")
	all := s.Secrets()
	for _, v := range []string{s.DeviceCodes()[0], tok.AccessToken, tok.RefreshToken, tok.IDToken, "gl-secret"} {
		if v == "" || !slices.Contains(all, v) {
			t.Errorf("Secrets lacks a value of length %d", len(v))
		}
	}
	if got := s.ClientSecret(); got != "gl-secret" {
		t.Errorf("ClientSecret has length %d", len(got))
	}
	if ids := s.IDTokens(); len(ids) != 1 || ids[0] != tok.IDToken {
		t.Errorf("IDTokens %d", len(ids))
	}
	if err := c.Revoke(t.Context(), cfg, tok.RefreshToken, "refresh_token"); err != nil {
		t.Fatal(err)
	}
	if got := s.Revoked(); len(got) != 1 || got[0] != tok.RefreshToken || s.IsAccessTokenValid(tok.AccessToken) {
		t.Errorf("revoking the refresh token: %d recorded, access still valid %v", len(got), s.IsAccessTokenValid(tok.AccessToken))
	}
}
