package oauth

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

// TestHTTP429IsTransient: too many requests is never a final answer,
// whatever OAuth error the body carries (issue 10 item 8); only slow_down
// stays an *Error, with the Retry-After as its Interval when it states none.
func TestHTTP429IsTransient(t *testing.T) {
	tests := []struct {
		name, body, retryAfter string
		wantRetry              time.Duration
	}{
		{"invalid_grant", `{"error":"invalid_grant"}`, "30", 30 * time.Second},
		{"access_denied", `{"error":"access_denied","error_description":"rate limited"}`, "", 0},
		{"authorization_pending", `{"error":"authorization_pending"}`, "7", 7 * time.Second},
		{"expired_token", `{"error":"expired_token"}`, "86400", 10 * time.Minute},
		{"no body", ``, "120", 2 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := hdr("Content-Type", "application/json", "Retry-After", tc.retryAfter)
			_, err := ParseTokenResponse(429, h, []byte(tc.body))
			var te *TransientError
			if !errors.As(err, &te) || te.StatusCode != 429 || te.RetryAfter != tc.wantRetry {
				t.Errorf("err = %#v, want a *TransientError with RetryAfter %v", err, tc.wantRetry)
			}
			_, err = ParseDeviceAuthorizationResponse(429, h, []byte(tc.body))
			if !errors.As(err, &te) {
				t.Errorf("device authorization: err = %#v", err)
			}
		})
	}

	slow := []struct {
		name, body, retryAfter string
		want                   time.Duration
	}{
		{"Retry-After seconds", `{"error":"slow_down"}`, "20", 20 * time.Second},
		{"Retry-After capped at 10m", `{"error":"slow_down"}`, "3600", 10 * time.Minute},
		{"Retry-After HTTP date", `{"error":"slow_down"}`, time.Now().Add(time.Minute).UTC().Format(http.TimeFormat), time.Minute},
		{"body interval wins", `{"error":"slow_down","interval":12}`, "30", 12 * time.Second},
		{"neither", `{"error":"slow_down"}`, "", 0},
	}
	for _, tc := range slow {
		t.Run("slow_down/"+tc.name, func(t *testing.T) {
			_, err := ParseTokenResponse(429, hdr("Content-Type", "application/json", "Retry-After", tc.retryAfter), []byte(tc.body))
			var oe *Error
			if !errors.As(err, &oe) || oe.Code != "slow_down" || oe.Interval < tc.want-2*time.Second || oe.Interval > tc.want {
				t.Errorf("err = %#v, want slow_down with Interval %v", err, tc.want)
			}
		})
	}
}

// TestHTTP429OnEveryEndpoint runs 429 through the Client, Revoke included.
func TestHTTP429OnEveryEndpoint(t *testing.T) {
	p := newProvider(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "9")
		reply(w, 429, "application/json", `{"error":"invalid_request","error_description":"too many requests"}`)
	})
	c := &Client{HTTP: testHTTP()}
	for _, op := range operations {
		err := op.run(t.Context(), c, testConfig(p))
		var te *TransientError
		if !errors.As(err, &te) || te.RetryAfter != 9*time.Second || te.StatusCode != 429 {
			t.Errorf("%s: err = %#v", op.name, err)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC)
	tests := map[string]time.Duration{
		"":                     0,
		"0":                    0,
		"-5":                   0,
		"15":                   15 * time.Second,
		"99999999999999999999": 10 * time.Minute,
		"86400":                10 * time.Minute,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
		now.Add(48 * time.Hour).Format(http.TimeFormat):   10 * time.Minute,
		"soon": 0,
	}
	for v, want := range tests {
		if got := retryAfter(hdr("Retry-After", v), now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}
