package controllers

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"text/template"
	"text/template/parse"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

var reservedKeys = map[string]bool{
	KeyAccessToken: true, KeyTokenType: true, KeyExpiry: true, KeyScope: true, KeyIDToken: true, KeyRefreshToken: true,
}

var secretKeyPattern = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)

// tokenValues are what secretTemplate.data templates can use.
type tokenValues struct {
	AccessToken, TokenType, Expiry, IDToken, Scope string
}

// parseTemplates checks secretTemplate.data up front, so that a broken template is an InvalidSpec
// before anything is written.
func parseTemplates(dl *authv1alpha1.DeviceLogin) (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	if dl.Spec.SecretTemplate == nil {
		return out, nil
	}
	for k, v := range dl.Spec.SecretTemplate.Data {
		if reservedKeys[k] {
			return nil, fmt.Errorf("secretTemplate.data key %q is reserved for the token itself; pick another key", k)
		}
		if !secretKeyPattern.MatchString(k) || len(k) > 253 {
			return nil, fmt.Errorf("secretTemplate.data key %q is not a valid Secret key (letters, digits, '-', '_', '.')", k)
		}
		t, err := template.New(k).Option("missingkey=error").Parse(v)
		if err != nil {
			return nil, fmt.Errorf("secretTemplate.data[%s] does not parse: %s", k, templateErrorText(err))
		}
		if len(t.Templates()) > 1 {
			return nil, fmt.Errorf("secretTemplate.data[%s] defines templates; write the value directly", k)
		}
		if name := unboundedNode(t.Root); name != "" {
			return nil, fmt.Errorf("secretTemplate.data[%s] uses %q; only values, pipelines, if and with are allowed", k, name)
		}
		out[k] = t
	}
	return out, nil
}

// unboundedNode names the first construct that could make rendering take unbounded time (range,
// which can loop over an integer, and template calls), or returns "". Token values are plain
// strings; nothing a Secret needs takes a loop.
func unboundedNode(n parse.Node) string {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return ""
		}
		for _, c := range n.Nodes {
			if name := unboundedNode(c); name != "" {
				return name
			}
		}
	case *parse.RangeNode:
		return "range"
	case *parse.TemplateNode:
		return "template"
	case *parse.IfNode:
		return firstOf(unboundedNode(n.List), unboundedNode(n.ElseList))
	case *parse.WithNode:
		return firstOf(unboundedNode(n.List), unboundedNode(n.ElseList))
	}
	return ""
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// templateErrorText keeps a template error's explanation and drops anything that could quote
// rendered values.
func templateErrorText(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.HasPrefix(msg, "template: ") {
		return msg[i+2:]
	}
	return msg
}

var execErrorPattern = regexp.MustCompile(`at (<[^>]*>): (.*)$`)

// renderErrorText explains why a template failed to render without quoting what it rendered: an
// execution error can carry the token, or a slice of it ("non-function <value>"). It keeps where
// the template failed (the user's own template text) and only the kinds of error that name types
// and fields, never values.
func renderErrorText(err error) string {
	msg := err.Error()
	m := execErrorPattern.FindStringSubmatch(msg)
	if m == nil {
		if strings.Contains(msg, "exceeds") {
			return fmt.Sprintf("the rendered value exceeds %d KiB", maxRenderedSize>>10)
		}
		return "the template fails on the token's values (details withheld: they could quote the token)"
	}
	for _, safe := range []string{"can't evaluate field ", "map has no entry for key ", "nil pointer evaluating "} {
		if strings.HasPrefix(m[2], safe) {
			return m[1] + ": " + m[2]
		}
	}
	if strings.Contains(m[2], "exceeds") {
		return fmt.Sprintf("%s: the rendered value exceeds %d KiB", m[1], maxRenderedSize>>10)
	}
	return m[1] + ": the template fails on the token's values (details withheld: they could quote the token)"
}

// maxRenderedSize bounds one rendered key, so that a template cannot build a huge Secret.
const maxRenderedSize = 256 << 10

// renderTokenSecret builds the token Secret's data from the state and the templates.
func renderTokenSecret(dl *authv1alpha1.DeviceLogin, st *loginState, tmpls map[string]*template.Template) (map[string][]byte, error) {
	data := map[string][]byte{
		KeyAccessToken: []byte(st.AccessToken),
		KeyTokenType:   []byte(tokenTypeOrBearer(st.TokenType)),
	}
	v := tokenValues{AccessToken: st.AccessToken, TokenType: tokenTypeOrBearer(st.TokenType), IDToken: st.IDToken, Scope: st.Scope}
	if !st.Expiry.IsZero() {
		v.Expiry = timestamp(st.Expiry)
		data[KeyExpiry] = []byte(v.Expiry)
	}
	if st.Scope != "" {
		data[KeyScope] = []byte(st.Scope)
	}
	if st.IDToken != "" {
		data[KeyIDToken] = []byte(st.IDToken)
	}
	if dl.Spec.IncludeRefreshToken && st.RefreshToken != "" {
		data[KeyRefreshToken] = []byte(st.RefreshToken)
	}
	keys := make([]string, 0, len(tmpls))
	for k := range tmpls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var buf bytes.Buffer
		if err := tmpls[k].Execute(&limitedWriter{w: &buf, n: maxRenderedSize}, v); err != nil {
			return nil, fmt.Errorf("secretTemplate.data[%s] does not render: %s", k, renderErrorText(err))
		}
		data[k] = buf.Bytes()
	}
	return data, nil
}

func tokenTypeOrBearer(t string) string {
	if t == "" {
		return "Bearer"
	}
	return t
}

type limitedWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.w.Len()+len(p) > l.n {
		return 0, fmt.Errorf("rendered value exceeds %d KiB", l.n>>10)
	}
	return l.w.Write(p)
}
