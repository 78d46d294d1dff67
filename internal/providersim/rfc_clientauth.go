package providersim

import (
	"crypto/subtle"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// oauthError is an RFC 6749 section 5.2 error answer of the RFC dialect.
type oauthError struct {
	status      int
	code        string
	description string
	basicAuth   bool // the client tried HTTP Basic: a 401 must carry a challenge
}

func badRequest(code, description string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: code, description: description}
}

func invalidClient(description string, basic bool) *oauthError {
	return &oauthError{status: http.StatusUnauthorized, code: "invalid_client", description: description, basicAuth: basic}
}

// fail answers with e.
func (c *call) fail(e *oauthError) {
	if e.status == http.StatusUnauthorized && e.basicAuth {
		c.w.Header().Set("WWW-Authenticate", `Basic realm="providersim"`)
	}
	c.json(e.status, body{"error": e.code, "error_description": e.description})
}

// strictForm enforces the transport rules shared by every OAuth POST endpoint: POST only, a
// form-encoded body, no parameters in the URL (they end up in logs) and no repeated parameters
// (RFC 6749 sections 3.1 and 3.2). It answers when they are broken.
func (c *call) strictForm() (url.Values, bool) {
	r := c.r
	if r.Method != http.MethodPost {
		c.w.Header().Set("Allow", http.MethodPost)
		c.fail(&oauthError{status: http.StatusMethodNotAllowed, code: "invalid_request", description: "method must be POST"})
		return nil, false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case err != nil || mt != "application/x-www-form-urlencoded":
		c.fail(badRequest("invalid_request", "body must be application/x-www-form-urlencoded"))
	case r.URL.RawQuery != "":
		c.fail(badRequest("invalid_request", "parameters must not be sent in the URL query"))
	case c.formErr != nil:
		c.fail(badRequest("invalid_request", "malformed form body"))
	default:
		for k, v := range c.form {
			if len(v) > 1 {
				c.fail(badRequest("invalid_request", "parameter "+k+" repeated"))
				return nil, false
			}
		}
		return c.form, true
	}
	return nil, false
}

// rfcClient applies the transport rules and authenticates the client, answering when either
// fails; exempt, when set, may let a request through that fails client authentication.
func (s *Server) rfcClient(c *call, exempt func(*call, url.Values) bool) (url.Values, bool) {
	form, ok := c.strictForm()
	if !ok {
		return nil, false
	}
	if e := s.authenticateClient(c, form); e != nil && (exempt == nil || !exempt(c, form)) {
		c.fail(e)
		return nil, false
	}
	return form, true
}

// authenticateClient applies RFC 6749 sections 2.3.1 and 3.2.1: exactly one method, Basic
// credentials form-urlencoded before base64, the right client_id, the secret only for a
// confidential client and always for one.
func (s *Server) authenticateClient(c *call, form url.Values) *oauthError {
	want := s.opts.ClientID
	bodyID, bodySecret := form.Get("client_id"), form.Get("client_secret")
	authz := c.r.Header.Get("Authorization")
	user, pass, basic := c.r.BasicAuth()
	switch {
	case authz != "" && !basic:
		return invalidClient("unsupported Authorization scheme", strings.HasPrefix(strings.ToLower(authz), "basic"))
	case basic && bodySecret != "":
		return badRequest("invalid_request", "client used more than one authentication method")
	case basic:
		id, err1 := url.QueryUnescape(user)
		secret, err2 := url.QueryUnescape(pass)
		switch {
		case err1 != nil || err2 != nil:
			return invalidClient("Basic credentials are not form-urlencoded", true)
		case bodyID != "" && bodyID != id:
			return invalidClient("client_id in body differs from Basic credentials", true)
		case id != want:
			return invalidClient("unknown client", true)
		}
		return s.checkSecret(secret, true)
	case bodyID == "":
		return invalidClient("no client authentication included", false)
	case bodyID != want:
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

// bareClientIDAllowed is the DeviceAuthClientIDOnly exemption: the right client_id in the body
// and no credentials at all.
func (s *Server) bareClientIDAllowed(c *call, form url.Values) bool {
	return s.opts.DeviceAuthClientIDOnly && form.Get("client_id") == s.opts.ClientID &&
		form.Get("client_secret") == "" && c.r.Header.Get("Authorization") == ""
}
