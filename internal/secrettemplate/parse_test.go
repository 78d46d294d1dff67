package secrettemplate

import (
	"strings"
	"testing"
)

func TestParseAllows(t *testing.T) {
	for _, text := range []string{
		"",
		"plain text",
		"Bearer {{ .AccessToken }}",
		"{{ .TokenType }} {{ .AccessToken }} {{ .Expiry }} {{ .IDToken }} {{ .Scope }}",
		"{{- .AccessToken -}}",
		"{{/* a comment */}}{{ .Scope }}",
		`{{ $auth := b64enc (concat "x-access-token:" .AccessToken) }}{"auth":"{{ $auth }}"}`,
		"{{ if .IDToken }}{{ .IDToken }}{{ else if .Scope }}{{ .Scope }}{{ else }}none{{ end }}",
		"{{ with .Scope }}{{ . }} {{ $.AccessToken }}{{ else }}none{{ end }}",
		"{{ with $s := .Scope }}{{ $s }}{{ end }}",
		"{{ if $x := .Scope }}{{ $x }}{{ end }}",
		"{{ with .IDToken }}{{ . }}{{ else with .Scope }}{{ . }}{{ end }}",
		`{{ if and (eq .TokenType "Bearer" "bearer") (ne .Scope "") (not .IDToken) }}y{{ end }}`,
		`{{ or .IDToken "none" }}`, `{{ .AccessToken | b64enc | b64enc | b64dec }}`,
		`{{ quote .AccessToken }} {{ upper .TokenType }} {{ lower .TokenType }} {{ trim .Scope }}`,
		`{{ trimPrefix "Bearer " .AccessToken }} {{ trimSuffix "=" .AccessToken }}`,
		`{{ replace " " "," .Scope }} {{ .IDToken | default "none" }} {{ true }} {{ false }}`,
		`{{ $a := "x" }}{{ $b := concat $a $a }}{{ $b }}`,
		"{{ " + strings.Repeat("b64enc (", 95) + ".AccessToken" + strings.Repeat(")", 95) + " }}",
		strings.Repeat("{{ if true }}", 95) + strings.Repeat("{{ end }}", 95),
		strings.Repeat("x", MaxTemplateLength),
	} {
		if _, err := Parse("k", text); err != nil {
			t.Errorf("Parse(%.60q): %v", text, err)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	attack := `{{$a := printf "%01000000d" 0}}` + strings.Repeat(`{{$a = print $a $a}}`, 8) + "{{$a}}"
	for _, tc := range []struct{ name, text, want string }{
		{"the 1.3 GB attack of issue 9", attack, "function printf is not allowed"},
		{"reassignment", `{{ $a := "x" }}{{ $a = concat $a $a }}`, "cannot be reassigned with ="},
		{"redeclaration", `{{ $a := "x" }}{{ $a := concat $a $a }}`, "declared twice"},
		{"redeclaration in a branch", `{{ $a := "x" }}{{ if true }}{{ $a := "y" }}{{ end }}`, "declared twice"},
		{"declaring $", `{{ $ := "x" }}`, "declared twice"},
		{"declaration in parentheses", `{{ b64enc ($a := .Scope) }}`, "start of an action"},
		{"print", "{{ print .AccessToken }}", "function print is not allowed"},
		{"println", "{{ println .AccessToken }}", "function println is not allowed"},
		{"html", "{{ html .AccessToken }}", "function html is not allowed"},
		{"js", "{{ .AccessToken | js }}", "function js is not allowed"},
		{"urlquery", "{{ urlquery .AccessToken }}", "function urlquery is not allowed"},
		{"call", "{{ call .AccessToken }}", "function call is not allowed"},
		{"index", `{{ index .AccessToken "1" }}`, "function index is not allowed"},
		{"slice", "{{ slice .AccessToken }}", "function slice is not allowed"},
		{"len", "{{ len .AccessToken }}", "function len is not allowed"},
		{"unknown function", "{{ sha256sum .AccessToken }}", "function sha256sum is not allowed; the functions are and, b64dec"},
		{"range", "{{ range .Scope }}x{{ end }}", "range is not allowed"},
		{"range over an integer", `{{ range 1000000000 }}{{ end }}`, "range is not allowed"},
		{"define", `{{ define "x" }}a{{ end }}`, "define and block are not allowed"},
		{"block", `{{ block "x" .AccessToken }}{{ . }}{{ end }}`, "define and block are not allowed"},
		{"template", `{{ template "x" }}`, "template and block are not allowed"},
		{"unknown field", "{{ .Nope }}", "there is no value .Nope; the values are .AccessToken, .TokenType"},
		{"field of a field", "{{ .AccessToken.Len }}", ".AccessToken is a string and has no fields"},
		{"field inside with", "{{ with .Scope }}{{ .AccessToken }}{{ end }}", "write $.AccessToken"},
		{"whole dot", "{{ . }}", "whole set of values"},
		{"whole $", "{{ $ }}", "whole set of values"},
		{"field of a variable", `{{ $a := .Scope }}{{ $a.Foo }}`, "$a is a string and has no fields"},
		{"unknown $ field", "{{ $.Nope }}", "there is no value .Nope"},
		{"number", "{{ 1 }}", "numbers are not supported"},
		{"nil", "{{ nil }}", "nil is not supported"},
		{"chain", "{{ (.AccessToken).X }}", "is not allowed in a secret template"},
		{"function as an argument", "{{ b64enc upper }}", "in parentheses"},
		{"arguments to a value", `{{ .AccessToken "x" }}`, "only functions take arguments"},
		{"too many arguments", "{{ .AccessToken | b64enc .Scope }}", "b64enc takes 1 argument, got 2"},
		{"too few arguments", "{{ replace .Scope }}", "replace takes 3 arguments, got 1"},
		{"too few for eq", "{{ eq .Scope }}", "eq takes at least 2 arguments, got 1"},
		{"undefined variable", "{{ $x }}", "undefined variable"},
		{"syntax error", "{{ .AccessToken ", "unclosed action"},
		{"too long", strings.Repeat("x", MaxTemplateLength+1), "the template is 4097 bytes long; the limit is 4096"},
		{"too deep", strings.Repeat("{{ if true }}", 101) + strings.Repeat("{{ end }}", 101), "nests deeper than 100 levels"},
		{"too deep parentheses", "{{ " + strings.Repeat("b64enc (", 101) + ".Scope" + strings.Repeat(")", 101) + " }}", "nests deeper than 100 levels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("k", tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse: got %v, want an error containing %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "k:") {
				t.Errorf("the error does not start with the template's name and place: %v", err)
			}
		})
	}
}
