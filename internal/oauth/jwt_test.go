package oauth

import (
	"encoding/base64"
	"testing"
	"time"
)

func TestUnverifiedExpiry(t *testing.T) {
	enc := func(payload string) string {
		return "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".c2ln"
	}
	tests := []struct {
		name  string
		token string
		want  time.Time
		ok    bool
	}{
		{"jwt with exp", enc(`{"exp":1800000000}`), time.Unix(1800000000, 0), true},
		{"jwt with fractional exp", enc(`{"exp":1800000000.5}`), time.Unix(1800000000, 0), true},
		{"jwt without exp", enc(`{"sub":"a"}`), time.Time{}, false},
		{"jwt with string exp", enc(`{"exp":"soon"}`), time.Time{}, false},
		{"jwt with negative exp", enc(`{"exp":-5}`), time.Time{}, false},
		{"opaque token", "gho_16C7e42F292c6912E7710c838347Ae178B4a", time.Time{}, false},
		{"garbage payload", "a.!!!.c", time.Time{}, false},
		{"payload not JSON", "a." + base64.RawURLEncoding.EncodeToString([]byte("nope")) + ".c", time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := UnverifiedExpiry(tt.token)
			if ok != tt.ok || !got.Equal(tt.want) {
				t.Fatalf("UnverifiedExpiry() = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
