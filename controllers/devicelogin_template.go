package controllers

import (
	"fmt"
	"regexp"
	"sort"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/secrettemplate"
)

var reservedKeys = map[string]bool{
	KeyAccessToken: true, KeyTokenType: true, KeyExpiry: true, KeyScope: true, KeyIDToken: true, KeyRefreshToken: true,
}

var secretKeyPattern = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)

// parseTemplates checks secretTemplate.data up front, so that a broken template is an InvalidSpec
// before anything is written. Templates run in internal/secrettemplate's sandbox, whose memory is
// bounded by construction: a tenant's template cannot exhaust the operator that every tenant shares.
func parseTemplates(dl *authv1alpha1.DeviceLogin) (map[string]*secrettemplate.Template, error) {
	out := map[string]*secrettemplate.Template{}
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
		t, err := secrettemplate.Parse(k, v)
		if err != nil {
			return nil, fmt.Errorf("secretTemplate.data[%s] does not parse: %w", k, err)
		}
		out[k] = t
	}
	return out, nil
}

// renderTokenSecret builds the token Secret's data from the state and the templates.
func renderTokenSecret(dl *authv1alpha1.DeviceLogin, st *loginState, tmpls map[string]*secrettemplate.Template) (map[string][]byte, error) {
	data := map[string][]byte{
		KeyAccessToken: []byte(st.AccessToken),
		KeyTokenType:   []byte(tokenTypeOrBearer(st.TokenType)),
	}
	v := secrettemplate.Values{AccessToken: st.AccessToken, TokenType: tokenTypeOrBearer(st.TokenType), IDToken: st.IDToken, Scope: st.Scope}
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
		out, err := tmpls[k].Render(v)
		if err != nil {
			return nil, fmt.Errorf("secretTemplate.data[%s] does not render: %w", k, err)
		}
		data[k] = out
	}
	return data, nil
}

func tokenTypeOrBearer(t string) string {
	if t == "" {
		return "Bearer"
	}
	return t
}
