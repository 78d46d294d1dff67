package providersim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// call is one request being answered.
type call struct {
	s       *Server
	w       http.ResponseWriter
	r       *http.Request
	form    url.Values
	formErr error // of parsing the body, which serveHTTP did
	rec     *Request
}

// body is a response body; its keys keep the order of insertion when encoded as a form.
type body map[string]any

// json answers with a JSON body (an "error" key is recorded as the OAuth error answered).
func (c *call) json(status int, b body) {
	c.note(status, b)
	h := c.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	c.w.WriteHeader(status)
	_ = json.NewEncoder(c.w).Encode(b)
}

// formEncoded answers with an application/x-www-form-urlencoded body, every value as text, as
// GitHub does unless asked for JSON.
func (c *call) formEncoded(status int, b body) {
	c.note(status, b)
	vals := url.Values{}
	for k, v := range b {
		switch v := v.(type) {
		case string:
			vals.Set(k, v)
		default:
			vals.Set(k, fmt.Sprint(v))
		}
	}
	c.w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	c.w.Header().Set("Cache-Control", "no-store")
	c.w.WriteHeader(status)
	_, _ = c.w.Write([]byte(vals.Encode()))
}

// html answers with an HTML page.
func (c *call) html(status int, page string) {
	c.rec.Status = status
	c.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	c.w.WriteHeader(status)
	_, _ = c.w.Write([]byte(page))
}

func (c *call) note(status int, b body) {
	c.rec.Status = status
	if code, ok := b["error"].(string); ok {
		c.rec.Error = code
	}
}

// wantsJSON says whether the request's Accept header asks for JSON.
func (c *call) wantsJSON() bool {
	for _, part := range strings.Split(c.r.Header.Get("Accept"), ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(mt, "application/json") {
			return true
		}
	}
	return false
}

// deviceAnswer is RFC 8628 section 3.2's answer for g, with verification_uri_complete when
// complete; the verification page is the provider's own.
func (c *call) deviceAnswer(g *grant, complete bool) body {
	s := c.s
	b := body{
		"device_code": g.deviceCode, "user_code": g.userCode, "verification_uri": s.VerificationURL(),
		"expires_in": seconds(s.opts.CodeLifetime), "interval": seconds(s.opts.Interval),
	}
	if complete {
		b["verification_uri_complete"] = s.VerificationURL() + "?user_code=" + url.QueryEscape(g.userCode)
	}
	return b
}

// tokens answers an approved poll with its tokens, noting the answer on the code.
func (c *call) tokens(g *grant, tok body) {
	c.s.notePoll(g, "token", http.StatusOK)
	c.json(http.StatusOK, tok)
}

// bearerUser returns who the valid access token in the Authorization header (under one of
// schemes) belongs to.
func (c *call) bearerUser(schemes ...string) (User, bool) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if at, ok := c.bearerLocked(schemes...); ok {
		return at.user, true
	}
	return User{}, false
}

// scopes splits the scope parameter.
func (c *call) scopes() []string { return strings.Fields(c.form.Get("scope")) }

// creds are the client credentials a request carries.
type creds struct {
	id, secret  string
	basic, body bool // where they came from
}

// credentials reads the client credentials from the Basic header and the body. conflict is set
// when both carry some; malformed when the Authorization header is not usable Basic.
func (c *call) credentials() (cr creds, conflict, malformed bool) {
	authz := c.r.Header.Get("Authorization")
	bodyID, bodySecret := c.form.Get("client_id"), c.form.Get("client_secret")
	if authz != "" {
		user, pass, ok := c.r.BasicAuth()
		if !ok {
			return creds{}, false, true
		}
		if bodyID != "" || bodySecret != "" {
			conflict = true
		}
		id, err1 := url.QueryUnescape(user)
		secret, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return creds{}, conflict, true
		}
		return creds{id: id, secret: secret, basic: true}, conflict, false
	}
	return creds{id: bodyID, secret: bodySecret, body: bodyID != "" || bodySecret != ""}, false, false
}

// clientAuthKind classifies how the request tried to authenticate, before any validation, so
// that refused requests are observable too.
func clientAuthKind(r *http.Request, form url.Values) string {
	_, _, basic := r.BasicAuth()
	post := form.Get("client_secret") != ""
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

// bearerLocked returns the valid access token the request carries in its Authorization header
// under one of schemes (never from the query: RFC 6750 discourages it, and it ends up in logs).
func (c *call) bearerLocked(schemes ...string) (*accessToken, bool) {
	scheme, tok, _ := strings.Cut(c.r.Header.Get("Authorization"), " ")
	for _, sc := range schemes {
		if strings.EqualFold(scheme, sc) && tok != "" {
			return c.s.validAccessLocked(tok)
		}
	}
	return nil, false
}

// verificationPage serves the page a person visits to enter the user code.
func verificationPage(c *call) {
	c.html(http.StatusOK, "<!DOCTYPE html><html><body><form method=post><label>Enter the code shown on your device "+
		"<input name=user_code></label><button>Continue</button></form></body></html>")
}
