package oauth

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestSanitizeDisplay(t *testing.T) {
	tests := []struct {
		name, in string
		max      int
		want     string
	}{
		{"plain", "alice@example.com", 64, "alice@example.com"},
		{"newlines and tabs become spaces", "a\nb\r\nc\td", 64, "a b  c d"},
		{"controls dropped", "a\x00b\x1bc\x7fd\u0085e", 64, "abcde"},
		{"bidi override and zero-width dropped", "evil\u202Egnp.exe\u200B", 64, "evilgnp.exe"},
		{"invalid UTF-8 dropped", "a\xffb\xc3", 64, "ab"},
		{"trimmed", "  bob \n", 64, "bob"},
		{"cut with a mark", strings.Repeat("x", 10), 6, "xxx…"},
		{"cut on a rune boundary", "ééééé", 7, "éé…"},
		{"max too small for the mark", "abcdef", 2, "ab"},
		{"max too small for the rune", "é", 1, ""},
		{"zero max", "abc", 0, ""},
		{"no space left before the cut", "a bcdef", 2, "a"},
		{"no space left before the mark", "abc defgh", 7, "abc…"},
		{"non-ASCII letters kept", "Zoë Ñandú 山田", 64, "Zoë Ñandú 山田"},
	}
	for _, tc := range tests {
		got := SanitizeDisplay(tc.in, tc.max)
		if got != tc.want {
			t.Errorf("%s: SanitizeDisplay(%q, %d) = %q, want %q", tc.name, tc.in, tc.max, got, tc.want)
		}
		if tc.max > 0 && len(got) > tc.max || !utf8.ValidString(got) {
			t.Errorf("%s: %q is longer than %d bytes or not UTF-8", tc.name, got, tc.max)
		}
		if again := SanitizeDisplay(got, tc.max); again != got {
			t.Errorf("%s: not idempotent: %q then %q", tc.name, got, again)
		}
	}
}

func TestValidUserCode(t *testing.T) {
	for _, ok := range []string{"WDJB-MJHT", "123 456", "abcdefgh", strings.Repeat("A", 64)} {
		if !validUserCode(ok) {
			t.Errorf("validUserCode(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "   ", strings.Repeat("A", 65), "AB<script>", "ABCD\nEFGH", "ÄBCD", "AB_CD", "AB\u202ECD", "https://evil.test"} {
		if validUserCode(bad) {
			t.Errorf("validUserCode(%q) = true", bad)
		}
	}
}

func TestValidDisplayURL(t *testing.T) {
	for _, ok := range []string{
		"https://example.com/device", "http://127.0.0.1:8080/d?user_code=AB-CD", "HTTPS://EXAMPLE.COM/", "https://bücher.example/gerät",
		"https://x.test/" + strings.Repeat("a", maxDisplayURLLen-len("https://x.test/")),
	} {
		if !validDisplayURL(ok) {
			t.Errorf("validDisplayURL(%q) = false", ok)
		}
	}
	for _, bad := range []string{
		"", "/device", "example.com/device", "javascript:alert(1)", "data:text/html,x", "ftp://example.com/",
		"https://", "https:///path", "https://good.example@evil.test/", "https://user:pw@example.com/",
		"https://example.com/\x07", "https://example.com/a b", "https://example.com/\u202Eevil", "https://example.com/\u0085",
		"https://example.com/\xff", "https://x.test/" + strings.Repeat("a", maxDisplayURLLen),
	} {
		if validDisplayURL(bad) {
			t.Errorf("validDisplayURL(%q) = true", bad)
		}
	}
}

// TestDeviceAuthorizationStringsBounded: what a provider hands back for
// status and events is checked before it can get there (issue 9 item 5).
func TestDeviceAuthorizationStringsBounded(t *testing.T) {
	const base = `"device_code":"dc","expires_in":900`
	long := "https://x.test/" + strings.Repeat("a", 3000)
	tests := []struct {
		name, body, wantErr string
		check               func(t *testing.T, d *DeviceAuthorization)
	}{
		{name: "markup in user_code", wantErr: "protocol",
			body: `{` + base + `,"user_code":"<img src=x>","verification_uri":"https://x.test/d"}`},
		{name: "user_code over 64 characters", wantErr: "protocol",
			body: `{` + base + `,"user_code":"` + strings.Repeat("A", 65) + `","verification_uri":"https://x.test/d"}`},
		{name: "user_code with a newline", wantErr: "protocol",
			body: `{` + base + `,"user_code":"ABCD\nEFGH","verification_uri":"https://x.test/d"}`},
		{name: "verification_uri with userinfo", wantErr: "protocol",
			body: `{` + base + `,"user_code":"ABCD","verification_uri":"https://login.example.com@evil.test/d"}`},
		{name: "verification_url with a control character", wantErr: "protocol",
			body: `{` + base + `,"user_code":"ABCD","verification_url":"https://x.test/d\u0007"}`},
		{name: "verification_uri over 2048 characters", wantErr: "protocol",
			body: `{` + base + `,"user_code":"ABCD","verification_uri":"` + long + `"}`},
		{name: "bad verification_uri_complete dropped",
			body: `{` + base + `,"user_code":"ABCD","verification_uri":"https://x.test/d","verification_uri_complete":"https://a@evil.test/d?c=ABCD"}`,
			check: func(t *testing.T, d *DeviceAuthorization) {
				if d.VerificationURIComplete != "" || d.VerificationURI != "https://x.test/d" {
					t.Errorf("got %+v", *d)
				}
			}},
		{name: "long verification_uri_complete dropped",
			body: `{` + base + `,"user_code":"ABCD","verification_uri":"https://x.test/d","verification_uri_complete":"` + long + `"}`,
			check: func(t *testing.T, d *DeviceAuthorization) {
				if d.VerificationURIComplete != "" {
					t.Errorf("got %+v", *d)
				}
			}},
		{name: "only a bad verification_uri_complete", wantErr: "protocol",
			body: `{` + base + `,"user_code":"ABCD","verification_uri_complete":"https://x.test/d?c=\u202EABCD"}`},
		{name: "message controls stripped",
			body: `{` + base + `,"user_code":"ABCD","verification_uri":"https://x.test/d","message":"To sign in,\nuse a browser\u001b[31m \u202Enow"}`,
			check: func(t *testing.T, d *DeviceAuthorization) {
				if d.Message != "To sign in, use a browser[31m now" {
					t.Errorf("Message = %q", d.Message)
				}
			}},
		{name: "message bounded",
			body: `{` + base + `,"user_code":"ABCD","verification_uri":"https://x.test/d","message":"` + strings.Repeat("m", 5000) + `"}`,
			check: func(t *testing.T, d *DeviceAuthorization) {
				if len(d.Message) > maxMessageLen {
					t.Errorf("Message is %d bytes", len(d.Message))
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseDeviceAuthorizationResponse(200, jsonCT, []byte(tc.body))
			checkErrType(t, err, tc.wantErr)
			if err != nil && (strings.Contains(err.Error(), "evil") || strings.Contains(err.Error(), "<img")) {
				t.Errorf("error quotes the provider's text: %v", err)
			}
			if tc.check != nil {
				tc.check(t, d)
			}
		})
	}
}

func FuzzSanitizeDisplay(f *testing.F) {
	for _, s := range []string{"alice", "a\nb", "\u202Eevil", "ééé", "a\xffb", "  x  ", "a bcdef"} {
		f.Add(s, 4)
		f.Add(s, 64)
	}
	f.Fuzz(func(t *testing.T, s string, maxBytes int) {
		maxBytes %= 4096
		got := SanitizeDisplay(s, maxBytes)
		if maxBytes <= 0 && got != "" || maxBytes > 0 && len(got) > maxBytes || !utf8.ValidString(got) {
			t.Fatalf("SanitizeDisplay(%q, %d) = %q", s, maxBytes, got)
		}
		for _, r := range got {
			if !unicode.IsPrint(r) {
				t.Fatalf("SanitizeDisplay(%q, %d) = %q keeps %U", s, maxBytes, got, r)
			}
		}
		if again := SanitizeDisplay(got, maxBytes); again != got {
			t.Fatalf("not idempotent: %q then %q", got, again)
		}
	})
}
