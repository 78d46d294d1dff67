package oauth

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// maxUserCodeLen bounds user_code: real ones are 8 to 12 characters.
	maxUserCodeLen = 64
	// maxDisplayURLLen bounds the verification URIs shown in status and
	// printer columns; real ones are well under 100 characters.
	maxDisplayURLLen = 2048
)

// SanitizeDisplay makes text from a provider (or from a token it issued) fit
// for a status field, an event or a log line: newlines and tabs become
// spaces, every other control, format or otherwise non-printable rune and
// every invalid UTF-8 byte is dropped, surrounding space is trimmed, and the
// result is cut to at most maxBytes bytes on a rune boundary, ending in "…" when
// cut (when maxBytes leaves room for it). maxBytes <= 0 yields "".
func SanitizeDisplay(s string, maxBytes int) string {
	if maxBytes <= 0 {
		return ""
	}
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case r == utf8.RuneError || !unicode.IsPrint(r) && r != ' ':
			return -1
		}
		return r
	}, s))
	if len(s) <= maxBytes {
		return s
	}
	const mark = "…"
	cut := maxBytes
	if maxBytes > len(mark) {
		cut = maxBytes - len(mark)
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	s = strings.TrimRight(s[:cut], " ")
	if maxBytes > len(mark) {
		return s + mark
	}
	return s
}

// validUserCode says whether user_code is something a person can read off a
// status and type: ASCII letters, digits, '-' and spaces, 1 to 64 characters
// (RFC 8628 section 6.1 recommends far fewer).
func validUserCode(s string) bool {
	if s == "" || len(s) > maxUserCodeLen || strings.TrimSpace(s) == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == ' '
		if !ok {
			return false
		}
	}
	return true
}

// validDisplayURL says whether s may be shown to people as a link: an
// absolute http(s) URL with a host, no userinfo (https://good.example@evil.test/
// reads as the wrong host), no control, format, space or invalid UTF-8
// characters, and at most 2048 bytes.
func validDisplayURL(s string) bool {
	if s == "" || len(s) > maxDisplayURLLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return false
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	return (u.Scheme == "https" || u.Scheme == "http") && u.Hostname() != "" && u.User == nil
}
