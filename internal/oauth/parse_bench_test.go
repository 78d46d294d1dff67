package oauth

import (
	"net/http"
	"testing"
)

func BenchmarkParseTokenResponse(b *testing.B) {
	body := []byte(`{"access_token":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln","token_type":"Bearer","expires_in":3600,` +
		`"refresh_token":"r-0123456789abcdef","scope":"openid email offline_access","id_token":"eyJhbGciOiJSUzI1NiJ9.e30.c2ln"}`)
	h := http.Header{"Content-Type": {"application/json"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseTokenResponse(200, h, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseDeviceAuthorizationResponse(b *testing.B) {
	body := []byte(`{"device_code":"GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS","user_code":"WDJB-MJHT",` +
		`"verification_uri":"https://example.com/device","verification_uri_complete":"https://example.com/device?user_code=WDJB-MJHT",` +
		`"expires_in":1800,"interval":5}`)
	h := http.Header{"Content-Type": {"application/json"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseDeviceAuthorizationResponse(200, h, body); err != nil {
			b.Fatal(err)
		}
	}
}
