package testidp

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

func TestOIDC(t *testing.T) {
	s := start(t, Options{OIDC: true, ClientSecret: "pw"})
	doc := get(t, s.URL()+"/.well-known/openid-configuration")
	wantOK(t, doc)
	for k, want := range map[string]string{
		"issuer":                        s.URL(),
		"device_authorization_endpoint": s.DeviceAuthorizationURL(),
		"token_endpoint":                s.TokenURL(),
		"revocation_endpoint":           s.RevocationURL(),
		"userinfo_endpoint":             s.UserinfoURL(),
		"jwks_uri":                      s.URL() + "/keys",
	} {
		if got := doc.str(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if g, _ := doc.json["grant_types_supported"].([]any); len(g) != 2 || g[0] != DeviceGrantType {
		t.Errorf("grant_types_supported %v", doc.json["grant_types_supported"])
	}
	if r := get(t, s.URL()+"/.well-known/oauth-authorization-server"); r.status != 404 {
		t.Errorf("RFC 8414 document served without the option: %d", r.status)
	}

	d := post(t, s.DeviceAuthorizationURL(), url.Values{"scope": {"openid email"}}, basic("test-client", "pw"))
	if err := s.Approve(d.str("user_code"), "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	tok := post(t, s.TokenURL(), url.Values{"grant_type": {DeviceGrantType}, "device_code": {d.str("device_code")}}, basic("test-client", "pw"))
	wantOK(t, tok)

	jws, err := jose.ParseSignedCompact(tok.str("id_token"), []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("parsing id_token: %v", err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(get(t, doc.str("jwks_uri")).body, &set); err != nil {
		t.Fatal(err)
	}
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in JWKS", jws.Signatures[0].Header.KeyID)
	}
	payload, err := jws.Verify(keys[0].Key)
	if err != nil {
		t.Fatalf("id_token does not verify against the JWKS: %v", err)
	}
	var c struct {
		Iss, Aud, Sub, Email string
		Exp, Iat             int64
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	if c.Iss != s.URL() || c.Aud != "test-client" || c.Sub != "bob@example.com" || c.Email != "bob@example.com" || c.Exp <= c.Iat {
		t.Errorf("claims %+v", c)
	}

	// No openid scope, no ID token.
	d2 := post(t, s.DeviceAuthorizationURL(), url.Values{"client_id": {"test-client"}, "client_secret": {"pw"}})
	_ = s.Approve(d2.str("user_code"), "bob")
	tok2 := post(t, s.TokenURL(), url.Values{"grant_type": {DeviceGrantType}, "device_code": {d2.str("device_code")}}, basic("test-client", "pw"))
	if _, ok := tok2.json["id_token"]; ok {
		t.Errorf("id_token without openid scope")
	}
}

func TestRFC8414Discovery(t *testing.T) {
	s := start(t, Options{RFC8414: true})
	r := get(t, s.URL()+"/.well-known/oauth-authorization-server")
	wantOK(t, r)
	if r.str("issuer") != s.URL() || r.str("device_authorization_endpoint") != s.DeviceAuthorizationURL() {
		t.Errorf("metadata %s", r.body)
	}
	if get(t, s.URL()+"/.well-known/openid-configuration").status != 404 {
		t.Error("OIDC document served without the option")
	}
	if s.Count(EndpointDiscovery) != 2 {
		t.Errorf("discovery count %d", s.Count(EndpointDiscovery))
	}
}

func TestApprovalPages(t *testing.T) {
	fc := fakeClock()
	s := start(t, Options{Clock: fc})
	d := post(t, s.DeviceAuthorizationURL(), url.Values{"client_id": {"test-client"}})
	page := get(t, d.str("verification_uri_complete"))
	wantOK(t, page)
	if !strings.Contains(string(page.body), d.str("user_code")) {
		t.Fatalf("page lacks the user code: %s", page.body)
	}
	approve := func(code, action string) response {
		return post(t, s.URL()+"/device/approve", url.Values{"user_code": {code}, "subject": {"carol"}, "action": {action}})
	}
	if r := approve("ZZZZ-ZZZZ", "approve"); r.status != 400 {
		t.Errorf("unknown code: %d", r.status)
	}
	wantOK(t, approve(d.str("user_code"), "approve"))
	r := poll(t, s, d.str("device_code"))
	wantOK(t, r)
	if ui := get(t, s.UserinfoURL(), bearer(r.str("access_token"))); ui.str("sub") != "carol" {
		t.Errorf("userinfo %s", ui.body)
	}

	d2 := post(t, s.DeviceAuthorizationURL(), url.Values{"client_id": {"test-client"}})
	wantOK(t, approve(d2.str("user_code"), "deny"))
	wantError(t, poll(t, s, d2.str("device_code")), 400, "access_denied")
}
