package oauth

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// UnverifiedExpiry returns the exp claim of a token that is a JWT, without verifying it. It is
// only ever used to schedule a refresh earlier, never to trust anything the token says: a
// provider whose clock runs behind the node's issues tokens whose own exp comes before
// now+expires_in, and a refresh must still come before that exp. ok is false for opaque tokens.
func UnverifiedExpiry(token string) (exp time.Time, ok bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(parts[1]) > 16<<10 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Exp == "" {
		return time.Time{}, false
	}
	secs, err := claims.Exp.Float64()
	if err != nil || secs <= 0 || secs > 1e11 {
		return time.Time{}, false
	}
	return time.Unix(int64(secs), 0), true
}
