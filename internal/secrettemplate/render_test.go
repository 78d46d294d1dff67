package secrettemplate

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

// token is a value that must never show in an error.
const token = "at-Z9secretvalue"

var testValues = Values{AccessToken: token, TokenType: "Bearer", Expiry: "2030-01-01T00:00:00Z",
	IDToken: "", Scope: "openid email"}

func render(t *testing.T, text string, v Values) (string, error) {
	t.Helper()
	tm, err := Parse("k", text)
	if err != nil {
		t.Fatalf("Parse(%.80q): %v", text, err)
	}
	out, err := tm.Render(v)
	return string(out), err
}

func TestRender(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct{ text, want string }{
		{"", ""},
		{"Bearer {{ .AccessToken }}", "Bearer " + token},
		{"{{ .TokenType }} {{ .Expiry }} [{{ .IDToken }}] {{ .Scope }}", "Bearer 2030-01-01T00:00:00Z [] openid email"},
		{"a {{- .TokenType -}} b{{/* comment */}}", "aBearerb"},
		{`{"auths":{"registry.example.com":{"auth":"{{ b64enc (concat "x-access-token:" .AccessToken) }}"}}}`,
			`{"auths":{"registry.example.com":{"auth":"` + b64("x-access-token:"+token) + `"}}}`},
		{`{{ $auth := concat "u:" .AccessToken | b64enc }}{{ $auth }}`, b64("u:" + token)},
		{"{{ .AccessToken | b64enc | b64enc | b64dec | b64dec }}", token},
		{"{{ if .IDToken }}id{{ else if .Scope }}scope{{ else }}none{{ end }}", "scope"},
		{"{{ with .IDToken }}{{ . }}{{ else with .Scope }}<{{ . }}|{{ $.TokenType }}>{{ end }}", "<openid email|Bearer>"},
		{"{{ with $s := .Scope }}{{ $s }}{{ end }}", "openid email"},
		{`{{ if $x := .Scope }}{{ $x }}{{ else }}{{ $x }}{{ end }}`, "openid email"},
		{`{{ if true }}{{ $a := "in" }}{{ $a }}{{ end }}`, "in"},
		//nolint:dupword // template output
		{`{{ eq .TokenType "bearer" "Bearer" }} {{ eq .TokenType "x" }} {{ ne .Scope "" }} {{ not .IDToken }}`, "true false true true"},
		//nolint:dupword // template and its output
		{`{{ eq true true }} {{ ne false true }}`, "true true"},
		{`{{ and .Scope .IDToken "z" }}|{{ and .Scope "z" }}|{{ or .IDToken "q" }}|{{ or .IDToken "" }}|{{ .Scope | or "" }}`, "|z|q||openid email"},
		{`{{ and .IDToken (b64dec "!") }}{{ or .Scope (b64dec "!") }}`, "openid email"}, // and/or stop early
		{`{{ quote "a\"b\\c\n\r\t\x01\x7f" }}`, `"a\"b\\c\n\r\t\u0001\u007f"`},
		{`{{ quote "\xff é" }}`, `"\ufffd é"`},
		{`{{ upper .TokenType }} {{ lower .TokenType }} {{ upper "ȿ" }}`, "BEARER bearer Ȿ"},
		{`[{{ trim "  x y \n" }}] {{ trimPrefix "Bea" .TokenType }} {{ trimSuffix "er" .TokenType }}`, "[x y] rer Bear"},
		{`{{ replace " " "," .Scope }} {{ replace "" "-" "ab" }}`, "openid,email -a-b-"},
		{`{{ .IDToken | default "none" }} {{ default "none" .Scope }}`, "none openid email"},
		{`{{ true }} {{ false }} {{ "lit" }}`, "true false lit"},
	} {
		got, err := render(t, tc.text, testValues)
		if err != nil || got != tc.want {
			t.Errorf("Render(%q) = %q, %v; want %q", tc.text, got, err, tc.want)
		}
	}
}

// TestRenderIsBounded runs templates that try to build large values, the way the attack of
// issue 9 did with printf and print: each one stops at the budget or the output cap, and none
// allocates more than designBound.
func TestRenderIsBounded(t *testing.T) {
	big := Values{AccessToken: strings.Repeat("A", 16<<10), TokenType: "Bearer", Scope: strings.Repeat("ȿ", 8<<10)}
	doubling := `{{ $a00 := concat .AccessToken .AccessToken }}`
	for i := 1; i < 40; i++ {
		doubling += "{{ $a" + itoa(i) + " := concat $a" + itoa(i-1) + " $a" + itoa(i-1) + " }}"
	}
	widening := `{{ $w0 := replace "" .AccessToken .AccessToken }}{{ $w1 := replace "" $w0 $w0 }}`
	for _, tc := range []struct{ name, text, want string }{
		{"doubling through variables", doubling + "{{ $a39 }}", "more than 1024 KiB in total"},
		{"nested b64enc", "{{ " + strings.Repeat("b64enc (", 90) + ".AccessToken" + strings.Repeat(")", 90) + " }}", "more than 1024 KiB in total"},
		{"piped b64enc", "{{ .AccessToken" + strings.Repeat(" | b64enc", 300) + " }}", "more than 1024 KiB in total"},
		{"replace that widens", widening, "more than 1024 KiB in total"},
		{"quote that widens", "{{ " + strings.Repeat("quote (", 40) + ".AccessToken" + strings.Repeat(")", 40) + " }}", "more than 1024 KiB in total"},
		{"upper that widens", "{{ upper (concat .Scope " + strings.Repeat("(upper (concat .Scope ", 30) + ".Scope" + strings.Repeat("))", 30) + ") }}", "more than 1024 KiB in total"},
		{"many substrings", "{{ " + strings.Repeat("trim (", 95) + ".AccessToken" + strings.Repeat(")", 95) + " }}" + strings.Repeat("{{ default .Scope .AccessToken }}", 70), "more than 1024 KiB in total"},
		{"long output", strings.Repeat("{{ .AccessToken }}", 17), "the rendered value exceeds 256 KiB"},
		{"long output from one value", "{{ concat" + strings.Repeat(" .AccessToken", 17) + " }}", "the rendered value exceeds 256 KiB"},
		{"budget spent, then long output", "{{ $b := concat" + strings.Repeat(" .AccessToken", 63) + " }}" +
			strings.Repeat("{{ .TokenType }}", 2) + strings.Repeat("{{ .AccessToken }}", 16), "the rendered value exceeds 256 KiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tm, err := Parse("k", tc.text)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			var out []byte
			n := allocated(func() { out, err = tm.Render(big) })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Render: got %d bytes, %v; want an error containing %q", len(out), err, tc.want)
			}
			if n > designBound {
				t.Fatalf("Render allocated %d bytes; the bound is %d", n, designBound)
			}
			t.Logf("allocated %d KiB", n>>10)
		})
	}
}

func itoa(i int) string { return fmt.Sprintf("%02d", i) }

// TestRenderErrorsDoNotQuoteValues makes every kind of render error happen on values that
// contain a token, and checks that no part of the token shows.
func TestRenderErrorsDoNotQuoteValues(t *testing.T) {
	v := Values{AccessToken: token, TokenType: "tt-" + token, Expiry: "ex-" + token, IDToken: "id-" + token, Scope: "sc-" + token}
	huge := v
	huge.AccessToken = strings.Repeat(token, 20<<10)
	for _, tc := range []struct {
		text string
		v    Values
	}{
		{"{{ b64dec .AccessToken }}", v},
		{"{{ .IDToken | b64dec }}", v},
		{"{{ b64dec (concat .AccessToken \"=\") }}", v},
		{"{{ eq .AccessToken true }}", v},
		{"{{ ne (eq .Scope .IDToken) .Scope }}", v},
		{"{{ b64enc (eq .AccessToken .AccessToken) }}", v},
		{"{{ concat .AccessToken (not .Scope) }}", v},
		{"{{ .AccessToken }}", huge},
		{"{{ b64enc (b64enc (b64enc (b64enc .AccessToken))) }}", huge},
	} {
		_, err := render(t, tc.text, tc.v)
		if err == nil {
			t.Fatalf("Render(%q) did not fail", tc.text)
		}
		for i := 0; i+6 <= len(token); i++ {
			if w := token[i : i+6]; strings.Contains(err.Error(), w) {
				t.Errorf("Render(%q) error quotes %q: %v", tc.text, w, err)
			}
		}
		if !strings.HasPrefix(err.Error(), "k:1:") {
			t.Errorf("Render(%q) error does not say where: %v", tc.text, err)
		}
	}
}

func TestRenderIsSafeForConcurrentUse(t *testing.T) {
	tm, err := Parse("k", `{{ $a := b64enc .AccessToken }}{{ with .Scope }}{{ $a }}{{ . }}{{ end }}`)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan string)
	for i := 0; i < 8; i++ {
		go func(i int) {
			out, _ := tm.Render(Values{AccessToken: itoa(i), Scope: "s"})
			done <- string(out)
		}(i)
	}
	for i := 0; i < 8; i++ {
		if got := <-done; !strings.HasSuffix(got, "s") || len(got) != 5 {
			t.Errorf("concurrent Render gave %q", got)
		}
	}
}
