package secrettemplate

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// errorVocabulary is the fixed text errors are made of; a token that shares a word with it is
// not a leak.
var errorVocabulary = strings.Join([]string{
	errOutputTooLarge.Error(), errBudget.Error(), errNotString.Error(),
	"the value is not valid base64", "cannot compare a string with a boolean", funcList(),
}, " ")

// peak is the most one Parse and one Render allocated in this process, for the report that
// SECRETTEMPLATE_FUZZ_REPORT asks for.
var peak struct{ parse, render uint64 }

// FuzzRender parses and renders any template over any token: no panic, no output over
// MaxRenderedSize, no error that quotes the token, and, above all, no Parse or Render that
// allocates more than allocBound bytes (measured with runtime.MemStats, so a template that
// builds a huge value and throws it away fails too).
//
// With SECRETTEMPLATE_FUZZ_REPORT=dir, each fuzzing process writes the largest allocations it saw
// to dir/peak-<pid>.
func FuzzRender(f *testing.F) {
	f.Add("Bearer {{ .AccessToken }}", token)
	report := os.Getenv("SECRETTEMPLATE_FUZZ_REPORT")
	f.Fuzz(func(t *testing.T, text, tok string) {
		var tm *Template
		var err error
		parsed := allocated(func() { tm, err = Parse("k", text) })
		if parsed > allocBound {
			t.Fatalf("Parse allocated %d bytes; the bound is %d", parsed, allocBound)
		}
		record(report, parsed, 0)
		if err != nil {
			return // Parse never sees a value, so its errors cannot quote one.
		}
		v := Values{AccessToken: tok, TokenType: "Bearer", Expiry: "2030-01-01T00:00:00Z", Scope: "openid " + tok}
		if len(tok) <= 4<<10 {
			v.IDToken = strings.Repeat(tok+".", 16) // a large value for free
		}
		var out []byte
		rendered := allocated(func() { out, err = tm.Render(v) })
		if rendered > allocBound {
			t.Fatalf("Render allocated %d bytes; the bound is %d", rendered, allocBound)
		}
		record(report, 0, rendered)
		if len(out) > MaxRenderedSize {
			t.Fatalf("Render produced %d bytes", len(out))
		}
		if err == nil {
			return
		}
		// Not even a slice of the token may show, unless the template or the fixed text has it.
		for i := 0; i+6 <= len(tok); i++ {
			w := tok[i : i+6]
			if strings.Contains(err.Error(), w) && !strings.Contains(text, w) && !strings.Contains(errorVocabulary, w) &&
				strings.Trim(w, "0123456789:k ") != "" {
				t.Fatalf("the error quotes part of the token (%q): %v", w, err)
			}
		}
	})
}

func record(dir string, parsed, rendered uint64) {
	if dir == "" || (parsed <= peak.parse && rendered <= peak.render) {
		return
	}
	peak.parse, peak.render = max(peak.parse, parsed), max(peak.render, rendered)
	name := filepath.Join(dir, fmt.Sprintf("peak-%d", os.Getpid()))
	// The directory is the fuzzing run's own SECRETTEMPLATE_FUZZ_REPORT, not outside input.
	_ = os.WriteFile(name, fmt.Appendf(nil, "parse %d\nrender %d\n", peak.parse, peak.render), 0o600) //nolint:gosec // G703: see above
}
