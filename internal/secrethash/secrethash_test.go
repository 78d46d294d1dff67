package secrethash

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func TestDataHash(t *testing.T) {
	base := map[string][]byte{"access_token": []byte("tok-1"), "token_type": []byte("Bearer")}
	h := DataHash(base)
	if len(h) != 64 {
		t.Fatalf("DataHash = %q, want 64 hex digits", h)
	}
	// A fixed vector, so that the encoding (which other tools may reimplement) never drifts.
	want := sha256.New()
	want.Write([]byte("access_token\x00\x00\x00\x00\x00\x00\x00\x00\x05tok-1"))
	want.Write([]byte("token_type\x00\x00\x00\x00\x00\x00\x00\x00\x06Bearer"))
	if h != hex.EncodeToString(want.Sum(nil)) {
		t.Fatalf("DataHash = %s, want the documented encoding %s", h, hex.EncodeToString(want.Sum(nil)))
	}
	for i := 0; i < 20; i++ { // map iteration order varies from run to run
		if got := DataHash(map[string][]byte{"token_type": []byte("Bearer"), "access_token": []byte("tok-1")}); got != h {
			t.Fatalf("hash depends on map order: %s != %s", got, h)
		}
	}
	if DataHash(nil) != DataHash(map[string][]byte{}) {
		t.Fatal("nil and empty data hash differently")
	}
	for name, other := range map[string]map[string][]byte{
		"changed value":         {"access_token": []byte("tok-2"), "token_type": []byte("Bearer")},
		"extra key":             {"access_token": []byte("tok-1"), "token_type": []byte("Bearer"), "expiry": nil},
		"byte moved into key":   {"access_token": []byte("tok-1"), "token_typeB": []byte("earer")},
		"byte moved to a value": {"access_token": []byte("tok-1B"), "token_type": []byte("earer")},
		"renamed key":           {"access_token": []byte("tok-1"), "type": []byte("Bearer")},
	} {
		if DataHash(other) == h {
			t.Errorf("%s: same hash as the original", name)
		}
	}
}
