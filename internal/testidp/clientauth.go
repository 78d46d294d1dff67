package testidp

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
)

// Client authentication kinds recorded in Request.ClientAuth.
const (
	AuthNone  = "none"
	AuthBasic = "basic"
	AuthPost  = "post"
	AuthBoth  = "basic+post" // always refused; recorded so tests can spot it
)

// clientAuthKind classifies how the request tried to authenticate, before
// any validation, so that refused requests are observable too.
func clientAuthKind(r *http.Request) string {
	_, _, basic := r.BasicAuth()
	post := r.PostForm.Get("client_secret") != ""
	switch {
	case basic && post:
		return AuthBoth
	case basic:
		return AuthBasic
	case post:
		return AuthPost
	}
	return AuthNone
}

// authenticateClient applies RFC 6749 2.3.1 and 3.2.1: exactly one method,
// Basic credentials form-urlencoded before base64, the right client_id, the
// secret only for a confidential client and always for one.
func (s *Server) authenticateClient(r *http.Request, form url.Values) *oauthError {
	want := s.opts.ClientID
	bodyID := form.Get("client_id")
	bodySecret := form.Get("client_secret")
	authz := r.Header.Get("Authorization")
	user, pass, basic := r.BasicAuth()

	if authz != "" && !basic {
		return invalidClient("unsupported Authorization scheme", strings.HasPrefix(strings.ToLower(authz), "basic"))
	}
	if basic && bodySecret != "" {
		return badRequest("invalid_request", "client used more than one authentication method")
	}

	if basic {
		id, err1 := url.QueryUnescape(user)
		secret, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return invalidClient("Basic credentials are not form-urlencoded", true)
		}
		if bodyID != "" && bodyID != id {
			return invalidClient("client_id in body differs from Basic credentials", true)
		}
		if id != want {
			return invalidClient("unknown client", true)
		}
		return s.checkSecret(secret, true)
	}

	if bodyID == "" {
		return invalidClient("no client authentication included", false)
	}
	if bodyID != want {
		return invalidClient("unknown client", false)
	}
	return s.checkSecret(bodySecret, false)
}

func (s *Server) checkSecret(got string, basic bool) *oauthError {
	want := s.opts.ClientSecret
	switch {
	case want == "" && got != "":
		return invalidClient("public client must not send a secret", basic)
	case want != "" && got == "":
		return invalidClient("client authentication required", basic)
	case want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1:
		return invalidClient("wrong client secret", basic)
	}
	return nil
}
