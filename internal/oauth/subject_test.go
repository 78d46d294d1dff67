package oauth

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// testKeys are generated once: RSA key generation dominates the test time.
var testKeys = sync.OnceValue(func() [2]*rsa.PrivateKey {
	var keys [2]*rsa.PrivateKey
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keys[i] = k
	}
	return keys
})

func signIDToken(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// keysProvider serves the public half of testKeys()[0] as a JWKS on every path.
func keysProvider(t *testing.T) *provider {
	t.Helper()
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &testKeys()[0].PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"},
	}})
	return newProvider(t, func(w http.ResponseWriter, _ *http.Request) {
		reply(w, 200, "application/json", string(jwks))
	})
}

func TestSubjectFromIDToken(t *testing.T) {
	keys := testKeys()
	p := keysProvider(t)
	issuer := p.URL
	now := time.Now()
	base := func(extra map[string]any) map[string]any {
		c := map[string]any{"iss": issuer, "aud": testClientID, "sub": "user-123",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	tests := []struct {
		name    string
		key     *rsa.PrivateKey
		claims  map[string]any
		want    string
		wantErr bool
	}{
		{"email wins", keys[0], base(map[string]any{"email": "jane@example.com", "preferred_username": "jane", "name": "Jane"}), "jane@example.com", false},
		{"preferred_username", keys[0], base(map[string]any{"preferred_username": "jane", "name": "Jane"}), "jane", false},
		{"name", keys[0], base(map[string]any{"name": "Jane Doe"}), "Jane Doe", false},
		{"sub", keys[0], base(nil), "user-123", false},
		{"wrong audience", keys[0], base(map[string]any{"aud": "someone-else"}), "", true},
		{"wrong issuer", keys[0], base(map[string]any{"iss": "https://evil.example"}), "", true},
		{"expired", keys[0], base(map[string]any{"exp": now.Add(-time.Hour).Unix()}), "", true},
		{"signed by another key", keys[1], base(map[string]any{"email": "mallory@example.com"}), "", true},
	}
	c := &Client{HTTP: testHTTP()}
	cfg := ClientConfig{ClientID: testClientID, ClientSecret: testClientSecret,
		Endpoints: Endpoints{Issuer: issuer, JWKSURL: p.URL + "/jwks", UserinfoURL: p.URL + "/must-not-be-used"}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := signIDToken(t, tc.key, tc.claims)
			got, err := c.Subject(t.Context(), cfg, &Token{AccessToken: testAccessToken, IDToken: raw})
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("Subject = %q, %v; want %q, error %v", got, err, tc.want, tc.wantErr)
			}
			if err != nil {
				t.Log(err)
				assertNoSecrets(t, err)
				if strings.Contains(err.Error(), raw) || strings.Contains(err.Error(), strings.Split(raw, ".")[2]) {
					t.Errorf("error quotes the ID token: %v", err)
				}
			}
		})
	}
	// Tokens signed with the known key ran first; the one with an unknown
	// signature forces at most one refetch. Everything else came from cache.
	jwksFetches, userinfo := 0, 0
	for _, r := range p.requests() {
		switch r.Path {
		case "/jwks":
			jwksFetches++
		case "/must-not-be-used":
			userinfo++
		}
	}
	if jwksFetches > 2 || userinfo != 0 {
		t.Errorf("JWKS fetched %d times, userinfo %d times", jwksFetches, userinfo)
	}
}

func TestSubjectFromUserinfo(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    string
		wantErr string
	}{
		{"oidc userinfo", replyJSON(200, `{"sub":"123","preferred_username":"jane","email":null}`), "jane", ""},
		{"github user api", replyJSON(200, `{"id":1,"login":"octocat","name":null,"email":null}`), "octocat", ""},
		{"no usable claim", replyJSON(200, `{"id":1}`), "", ""},
		{"401", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(401) }, "", "oauth"},
		{"503", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }, "", "transient"},
		{"html", func(w http.ResponseWriter, _ *http.Request) { reply(w, 200, "text/html", "<html>") }, "", "transient"},
		{"signed jwt", func(w http.ResponseWriter, _ *http.Request) { reply(w, 200, "application/jwt", "a.b.c") }, "", "protocol"},
	}
	c := &Client{HTTP: testHTTP()}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t, tc.handler)
			cfg := ClientConfig{ClientID: testClientID, Endpoints: Endpoints{UserinfoURL: p.URL + "/userinfo"}}
			// An ID token without issuer and JWKS configured is not trusted;
			// userinfo is asked instead.
			got, err := c.Subject(t.Context(), cfg, &Token{AccessToken: testAccessToken, IDToken: "x.y.z"})
			checkErrType(t, err, tc.wantErr)
			assertNoSecrets(t, err)
			if got != tc.want {
				t.Errorf("Subject = %q, want %q", got, tc.want)
			}
			r := p.last(t)
			if r.Method != http.MethodGet || r.Header.Get("Authorization") != "Bearer "+testAccessToken ||
				r.Header.Get("User-Agent") != userAgent {
				t.Errorf("request %s %v", r.Method, r.Header)
			}
		})
	}
}

func TestSubjectFromTokenFields(t *testing.T) {
	c := &Client{HTTP: testHTTP()}
	for extra, want := range map[string]string{"user": "sentry-user", "login": "octocat", "username": "u"} {
		got, err := c.Subject(t.Context(), ClientConfig{}, &Token{AccessToken: "a", Extra: map[string]string{extra: want}})
		if err != nil || got != want {
			t.Errorf("Extra[%s]: got %q, %v", extra, got, err)
		}
	}
	if got, err := c.Subject(t.Context(), ClientConfig{}, &Token{AccessToken: "a"}); got != "" || err != nil {
		t.Errorf("unknown subject: %q, %v", got, err)
	}
	if got, err := c.Subject(t.Context(), ClientConfig{}, nil); got != "" || err != nil {
		t.Errorf("nil token: %q, %v", got, err)
	}
}

// TestSubjectFromVendorIssuers covers the issuers that are not the plain string discovery gives:
// Google's, which it also writes without the scheme, and Entra's multi-tenant template, whose
// iss must be the template with the token's own tid put in.
func TestSubjectFromVendorIssuers(t *testing.T) {
	keys := testKeys()
	p := keysProvider(t)
	const (
		google   = "https://accounts.google.com"
		template = "https://login.microsoftonline.com/" + TenantIDPlaceholder + "/v2.0"
		tid      = "72f988bf-86f1-41af-91ab-2d7cd011db47"
		other    = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
	)
	entraIss := "https://login.microsoftonline.com/" + tid + "/v2.0"
	now := time.Now()
	// claims are a valid token's, with extra's set over them (a nil value deletes).
	claims := func(extra map[string]any) map[string]any {
		c := map[string]any{"aud": testClientID, "sub": "opaque", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"preferred_username": "jane@contoso.com", "name": "Jane"}
		maps.Copy(c, extra)
		maps.DeleteFunc(c, func(_ string, v any) bool { return v == nil })
		return c
	}
	type m = map[string]any
	tests := []struct {
		name    string
		issuer  string
		key     int
		claims  map[string]any
		want    string
		wantErr string
	}{
		{"google", google, 0, claims(m{"iss": google, "email": "jane@gmail.com"}), "jane@gmail.com", ""},
		{"google without scheme", google, 0, claims(m{"iss": "accounts.google.com", "email": "jane@gmail.com"}), "jane@gmail.com", ""},
		{"google look-alike", google, 0, claims(m{"iss": "https://accounts.google.com.example"}), "", "different provider"},
		{"entra tenant of the token", template, 0, claims(m{"iss": entraIss, "tid": tid}), "jane@contoso.com", ""},
		{"entra iss of another tenant", template, 0, claims(m{"iss": "https://login.microsoftonline.com/" + other + "/v2.0", "tid": tid}), "", "its tenant's issuer"},
		{"entra tid of another tenant", template, 0, claims(m{"iss": entraIss, "tid": other}), "", "its tenant's issuer"},
		{"entra without tid", template, 0, claims(m{"iss": entraIss}), "", "tid"},
		{"entra tid with a path", template, 0, claims(m{"iss": entraIss, "tid": tid + "/v2.0/x"}), "", "tid"},
		{"entra iss is the template", template, 0, claims(m{"iss": template, "tid": TenantIDPlaceholder}), "", "tid"},
		{"entra v1 issuer", template, 0, claims(m{"iss": "https://sts.windows.net/" + tid + "/", "tid": tid}), "", "its tenant's issuer"},
		{"entra other audience", template, 0, claims(m{"iss": entraIss, "tid": tid, "aud": "another-app"}), "", "audience"},
		{"entra signed by another key", template, 1, claims(m{"iss": entraIss, "tid": tid}), "", "signature"},
		{"entra expired", template, 0, claims(m{"iss": entraIss, "tid": tid, "exp": now.Add(-time.Hour).Unix()}), "", "expired"},
		{"entra name when no username", template, 0, claims(m{"iss": entraIss, "tid": tid, "preferred_username": nil}), "Jane", ""},
	}
	c := &Client{HTTP: testHTTP()}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ClientConfig{ClientID: testClientID, Endpoints: Endpoints{Issuer: tc.issuer, JWKSURL: p.URL + "/keys"}}
			raw := signIDToken(t, keys[tc.key], tc.claims)
			got, err := c.Subject(t.Context(), cfg, &Token{AccessToken: testAccessToken, IDToken: raw})
			if got != tc.want {
				t.Errorf("Subject = %q, want %q", got, tc.want)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one that says %q", err, tc.wantErr)
			}
			if err != nil {
				checkErrType(t, err, "protocol")
				assertNoSecrets(t, err)
				if strings.Contains(err.Error(), strings.Split(raw, ".")[2]) || strings.Contains(err.Error(), strings.Split(raw, ".")[1]) {
					t.Errorf("error quotes the ID token: %v", err)
				}
			}
		})
	}
}
