package controllers

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// renderVocabulary is the fixed text render errors are made of; a token that happens to share a
// word with it is not a leak.
const renderVocabulary = "secretTemplate.data[k] does not render: the template fails on the token's values " +
	"(details withheld: they could quote the token) the rendered value exceeds 256 KiB " +
	"can't evaluate field in type controllers.tokenValues AccessToken TokenType Expiry IDToken Scope " +
	"map has no entry for key nil pointer evaluating"

// FuzzRenderTokenSecret feeds secretTemplate.data values through parsing and rendering: no panic,
// every rendered value within maxRenderedSize, rendering within a bounded time, and no error
// message that quotes the token.
func FuzzRenderTokenSecret(f *testing.F) {
	for _, seed := range []string{
		"Bearer {{ .AccessToken }}",
		`{"auths":{"ghcr.io":{"auth":"{{ printf "x:%s" .AccessToken }}"}}}`,
		"{{ .Expiry }} {{ .Scope }} {{ .IDToken }} {{ .TokenType }}",
		"{{ if .IDToken }}{{ .IDToken }}{{ else }}none{{ end }}",
		"{{ with .Scope }}{{ . }}{{ end }}",
		"{{ .Nope }}", "{{ range 1000000000 }}{{ end }}", `{{ define "x" }}{{ end }}`, "{{ template \"x\" }}",
		`{{ printf "%0999999d" 1 }}`, "{{ index .AccessToken 999 }}", "{{ len .AccessToken | printf \"%d\" }}",
		"{{", "}}", "{{ .AccessToken | call }}", "{{ slice .AccessToken 1 2 }}", "{{ eq .AccessToken 1 }}",
	} {
		f.Add(seed, "at-Z9secretvalue")
	}
	f.Fuzz(func(t *testing.T, tmpl, token string) {
		if len(token) < 8 || strings.Trim(token, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" {
			return // tokens are base64url or JWT text
		}
		dl := &authv1alpha1.DeviceLogin{
			ObjectMeta: metav1.ObjectMeta{Name: "fuzz"},
			Spec:       authv1alpha1.DeviceLoginSpec{SecretTemplate: &authv1alpha1.SecretTemplate{Data: map[string]string{"k": tmpl}}},
		}
		tmpls, err := parseTemplates(dl)
		if err != nil {
			if strings.Contains(err.Error(), token) && !strings.Contains(tmpl, token) {
				t.Fatalf("parse error quotes the token: %v", err)
			}
			return
		}
		st := &loginState{AccessToken: token, TokenType: "Bearer", IDToken: "id." + token, Scope: "openid",
			Expiry: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
		start := time.Now()
		data, err := renderTokenSecret(dl, st, tmpls)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("rendering took %s", d)
		}
		if err != nil {
			// Not even a slice of the token may show: check every 6-byte window of it.
			for i := 0; i+6 <= len(token); i++ {
				w := token[i : i+6]
				if strings.Trim(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
					continue
				}
				if strings.Contains(err.Error(), w) && !strings.Contains(tmpl, w) &&
					!strings.Contains(renderVocabulary, w) {
					t.Fatalf("render error quotes part of the token (%q): %v", w, err)
				}
			}
			return
		}
		for k, v := range data {
			if len(v) > maxRenderedSize {
				t.Fatalf("key %s rendered %d bytes", k, len(v))
			}
		}
	})
}
