package oauth

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// githubErrorCodes is how the GitHub preset maps its codes; repeated here so that the oauth
// package does not depend on the preset table.
var githubErrorCodes = map[string]string{"bad_refresh_token": "invalid_grant", "incorrect_device_code": "invalid_grant"}

func TestErrorCodesTranslatePollAndRefreshErrors(t *testing.T) {
	p := newProvider(t, func(w http.ResponseWriter, r *http.Request) {
		code := "incorrect_device_code"
		if r.PostForm.Get("grant_type") == "refresh_token" {
			code = "bad_refresh_token"
		}
		// GitHub answers errors with HTTP 200.
		reply(w, 200, "application/json", `{"error":"`+code+`","error_description":"The refresh token passed is incorrect or expired."}`)
	})
	c := &Client{HTTP: testHTTP()}
	cfg := testConfig(p)
	cfg.Quirks.ErrorCodes = githubErrorCodes

	_, err := c.PollToken(t.Context(), cfg, testDeviceCode)
	var oe *Error
	if !errors.As(err, &oe) || oe.Code != "invalid_grant" || oe.ProviderCode != "incorrect_device_code" || oe.StatusCode != 200 {
		t.Fatalf("PollToken: %#v", err)
	}
	_, err = c.Refresh(t.Context(), cfg, testRefreshToken)
	if !IsCode(err, "invalid_grant") || !errors.As(err, &oe) || oe.ProviderCode != "bad_refresh_token" {
		t.Fatalf("Refresh: %#v", err)
	}
	if got := err.Error(); !strings.Contains(got, "invalid_grant (bad_refresh_token): The refresh token passed") {
		t.Errorf("message = %q", got)
	}
	assertNoSecrets(t, err)

	// Without the quirk, the provider's code comes through untouched.
	cfg.Quirks.ErrorCodes = nil
	if _, err := c.Refresh(t.Context(), cfg, testRefreshToken); !IsCode(err, "bad_refresh_token") {
		t.Errorf("untranslated: %v", err)
	}
}

func TestErrorCodesTranslateDeviceAndRevokeErrors(t *testing.T) {
	p := newProvider(t, replyJSON(400, `{"error":"authorization_declined"}`))
	c := &Client{HTTP: testHTTP()}
	cfg := testConfig(p)
	cfg.Quirks.ErrorCodes = map[string]string{"authorization_declined": "access_denied"}
	if _, err := c.RequestDeviceCode(t.Context(), cfg, DeviceRequest{}); !IsCode(err, "access_denied") {
		t.Errorf("RequestDeviceCode: %v", err)
	}
	if err := c.Revoke(t.Context(), cfg, testAccessToken, ""); !IsCode(err, "access_denied") {
		t.Errorf("Revoke: %v", err)
	}
	// An unmapped code and a transient failure pass unchanged.
	cfg.Quirks.ErrorCodes = map[string]string{"other": "invalid_grant"}
	if _, err := c.RequestDeviceCode(t.Context(), cfg, DeviceRequest{}); !IsCode(err, "authorization_declined") {
		t.Errorf("unmapped: %v", err)
	}
	var nilErr error
	if cfg.Quirks.translateError(nilErr) != nil {
		t.Error("nil error translated into something")
	}
}

func TestErrorCodesKeepSlowDownInterval(t *testing.T) {
	p := newProvider(t, replyJSON(200, `{"error":"slow_down","interval":10}`))
	c := &Client{HTTP: testHTTP()}
	cfg := testConfig(p)
	cfg.Quirks.ErrorCodes = githubErrorCodes
	_, err := c.PollToken(t.Context(), cfg, testDeviceCode)
	var oe *Error
	if !errors.As(err, &oe) || oe.Code != "slow_down" || oe.ProviderCode != "" || oe.Interval.Seconds() != 10 {
		t.Fatalf("got %#v", err)
	}
}

func TestCommaSeparatedScope(t *testing.T) {
	body := `{"access_token":"` + testAccessToken + `","token_type":"bearer","scope":"repo,read:org, gist","refresh_token":"` + testNewRefresh + `","expires_in":28800}`
	p := newProvider(t, replyJSON(200, body))
	c := &Client{HTTP: testHTTP()}
	cfg := testConfig(p)
	cfg.Quirks.CommaSeparatedScope = true
	tok, err := c.PollToken(t.Context(), cfg, testDeviceCode)
	if err != nil || tok.Scope != "repo read:org gist" {
		t.Fatalf("PollToken: %+v, %v", tok, err)
	}
	tok, err = c.Refresh(t.Context(), cfg, testRefreshToken)
	if err != nil || tok.Scope != "repo read:org gist" || !tok.Rotated {
		t.Fatalf("Refresh: %+v, %v", tok, err)
	}
	cfg.Quirks.CommaSeparatedScope = false
	if tok, _ := c.PollToken(t.Context(), cfg, testDeviceCode); tok.Scope != "repo,read:org, gist" {
		t.Errorf("without the quirk: %q", tok.Scope)
	}
}

func TestSentryUserObjectNamesTheSubject(t *testing.T) {
	tests := map[string]string{
		`{"id":"1","name":"Alice","email":"alice@example.com"}`: "alice@example.com",
		`{"id":"1","name":"Alice","email":""}`:                  "Alice",
		`{"id":"1","name":"Alice\nAdmin"}`:                      "Alice Admin",
		`{"id":"1"}`:                                            "",
		`{"email":42}`:                                          "",
	}
	for user, want := range tests {
		body := `{"access_token":"a","token_type":"Bearer","expires_in":2591999,"expires_at":"2026-12-28T18:20:00.000000Z",` +
			`"refresh_token":"r","scope":"org:read","user":` + user + `,"organization_id":"4711"}`
		tok, err := ParseTokenResponse(200, hdr("Content-Type", "application/json"), []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if got := tok.Extra["user"]; got != want {
			t.Errorf("user %s: Extra[user] = %q, want %q", user, got, want)
		}
		if tok.Extra["organization_id"] != "4711" || tok.Extra["expires_at"] == "" {
			t.Errorf("Extra = %v", tok.Extra)
		}
		c := &Client{HTTP: testHTTP()}
		if got, err := c.Subject(t.Context(), ClientConfig{}, tok); err != nil || got != want {
			t.Errorf("user %s: Subject = %q, %v", user, got, err)
		}
	}
}
