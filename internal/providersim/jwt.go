package providersim

import (
	"encoding/json"
	"fmt"
	"net/http"

	jose "github.com/go-jose/go-jose/v4"
)

// Sign mints an RS256 JWT over claims with the simulation's signing key, as the provider signs its
// ID tokens, for tests that need a token the provider would not issue (another tenant's issuer,
// another audience) but that its keys verify.
func (s *Server) Sign(claims map[string]any) string { return s.sign(claims) }

// sign mints an RS256 JWT with the simulation's key (ID tokens; Entra's access tokens).
func (s *Server) sign(claims map[string]any) string {
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(fmt.Sprintf("providersim: marshalling claims: %v", err))
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: s.key, KeyID: s.kid}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		panic(fmt.Sprintf("providersim: creating signer: %v", err))
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		panic(fmt.Sprintf("providersim: signing: %v", err))
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		panic(fmt.Sprintf("providersim: serializing: %v", err))
	}
	return tok
}

// serveJWKS publishes the public half of the signing key.
func (s *Server) serveJWKS(c *call) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key: &s.key.PublicKey, KeyID: s.kid, Algorithm: string(jose.RS256), Use: "sig",
	}}}
	c.rec.Status = http.StatusOK
	c.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(c.w).Encode(set)
}
