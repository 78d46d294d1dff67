package providersim

import (
	"net/http"
	"strings"
)

// GitHub (github.com and GitHub Enterprise Server), as its device flow documentation describes:
//   - POST /login/device/code and /login/oauth/access_token; the verification page is
//     /login/device. No discovery document.
//   - answers are application/x-www-form-urlencoded (numbers as text) unless the request's Accept
//     asks for application/json.
//   - every error of the token endpoint comes with HTTP 200: error, error_description, error_uri.
//     Beyond RFC 8628's codes: incorrect_client_credentials, incorrect_device_code,
//     device_flow_disabled, unsupported_grant_type, bad_refresh_token.
//   - a poll earlier than the code's interval is answered slow_down with the raised interval
//     (interval + 5 s, or + Options.SlowDownStep) in the body.
//   - no client secret is needed for the device flow; one that is sent must be right.
//   - OAuth Apps: gho_ tokens that never expire, no refresh token, granted scopes comma-separated.
//     GitHub Apps with expiring tokens (Options.ExpiringTokens): ghu_ tokens for 8 hours, ghr_
//     refresh tokens for 6 months, scope ""; a refresh needs client_id and client_secret and
//     rotates both tokens, the old ones stop working at once.
//
// The status of the device code endpoint's own errors is not documented; the simulation answers
// them with HTTP 400.

const githubErrorURI = "https://docs.github.com/developers/apps/authorizing-oauth-apps#error-codes-for-the-device-flow"

// githubUserCodeAlphabet is what GitHub's user codes are drawn from.
const githubUserCodeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"

func (s *Server) githubRoutes() map[string]route {
	post, p := []string{http.MethodPost}, s.paths
	return map[string]route{
		p.device: {EndpointDevice, post, s.githubDevice},
		p.token:  {EndpointToken, post, s.githubToken},
		p.page:   {EndpointPage, []string{http.MethodGet}, verificationPage},
		// The REST API's user endpoint, where GitHub Enterprise Server serves it (github.com serves
		// it on api.github.com).
		p.userinfo: {EndpointUserinfo, []string{http.MethodGet}, s.githubUser},
	}
}

// githubUser answers GET /user for a valid token, with the email null as it is for a user who
// keeps it private; an OAuth App's token never expires.
func (s *Server) githubUser(c *call) {
	u, valid := c.bearerUser("Bearer", "token")
	if !valid {
		c.json(http.StatusUnauthorized, body{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
		return
	}
	c.json(http.StatusOK, body{"login": u.Login, "id": 1, "name": u.Name, "email": nil, "type": "User"})
}

// githubReply answers in the format the Accept header asked for.
func (s *Server) githubReply(c *call, status int, b body) {
	if c.wantsJSON() {
		c.json(status, b)
		return
	}
	c.formEncoded(status, b)
}

func (s *Server) githubError(c *call, status int, code, description string) {
	s.githubReply(c, status, body{"error": code, "error_description": description, "error_uri": githubErrorURI})
}

// githubClientOK checks client_id and, when sent, client_secret.
func (s *Server) githubClientOK(c *call) bool {
	cr, _, malformed := c.credentials()
	return !malformed && cr.id == s.opts.ClientID && (cr.secret == "" || cr.secret == s.opts.ClientSecret)
}

func (s *Server) githubDevice(c *call) {
	switch {
	case !s.githubClientOK(c):
		s.githubError(c, http.StatusBadRequest, "incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.")
		return
	case s.opts.DeviceFlowDisabled:
		s.githubError(c, http.StatusBadRequest, "device_flow_disabled", "Device Flow must be explicitly enabled for this App")
		return
	}
	s.mu.Lock()
	userCode := s.userCodeLocked(func() string {
		return randomFrom(githubUserCodeAlphabet, 4) + "-" + randomFrom(githubUserCodeAlphabet, 4)
	})
	g := s.newGrantLocked(randomHex(20), userCode, strings.Join(c.scopes(), ","))
	s.mu.Unlock()
	s.githubReply(c, http.StatusOK, c.deviceAnswer(g, false))
}

func (s *Server) githubToken(c *call) {
	if !s.githubClientOK(c) {
		s.githubError(c, http.StatusOK, "incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.")
		return
	}
	switch gt := c.form.Get("grant_type"); gt {
	case DeviceGrantType:
		s.githubDeviceGrant(c)
	case "refresh_token":
		s.githubRefresh(c)
	default:
		s.githubError(c, http.StatusOK, "unsupported_grant_type", "The grant type is not supported.")
	}
}

func (s *Server) githubDeviceGrant(c *call) {
	if s.opts.DeviceFlowDisabled {
		s.githubError(c, http.StatusOK, "device_flow_disabled", "Device Flow must be explicitly enabled for this App")
		return
	}
	g, out, tok := s.pollGrant(c.form.Get("device_code"), func(g *grant) body { return s.githubIssueLocked(g, 0) })
	var interval int64
	if g != nil {
		s.mu.Lock()
		interval = seconds(g.interval)
		s.mu.Unlock()
	}
	switch out {
	case outApproved:
		s.notePoll(g, "token", http.StatusOK)
		s.githubReply(c, http.StatusOK, tok)
		return
	case outSlowDown:
		s.notePoll(g, "slow_down", http.StatusOK)
		s.githubReply(c, http.StatusOK, body{
			"error": "slow_down", "error_description": "Too many requests have been made in the same timeframe.",
			"error_uri": githubErrorURI, "interval": interval,
		})
		return
	}
	answer := githubAnswers[out]
	code, description := answer[0], answer[1]
	s.notePoll(g, code, http.StatusOK)
	s.githubError(c, http.StatusOK, code, description)
}

func (s *Server) githubRefresh(c *call) {
	rt := c.form.Get("refresh_token")
	cr, _, _ := c.credentials()
	if !s.opts.ExpiringTokens || s.opts.ClientSecret == "" || cr.secret == "" {
		// Only GitHub Apps with expiring tokens refresh, and only with the client secret.
		s.githubError(c, http.StatusOK, "incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.")
		return
	}
	s.mu.Lock()
	var tok body
	if old, ok := s.presentRefreshLocked(rt); ok {
		old.rotated = true
		s.revokeAccessLocked(old.family) // "that refresh token and the old user access token will no longer work"
		tok = s.githubIssueLocked(standIn(old, ""), old.family)
	}
	s.mu.Unlock()
	if tok == nil {
		s.githubError(c, http.StatusOK, "bad_refresh_token", "The refresh token passed is incorrect or expired.")
		return
	}
	s.githubReply(c, http.StatusOK, tok)
}

// githubIssueLocked mints an OAuth App's or a GitHub App's token.
func (s *Server) githubIssueLocked(g *grant, family int) body {
	if !s.opts.ExpiringTokens {
		access := "gho_" + randomFrom(githubTokenAlphabet, 36)
		s.issueLocked(g, family, 0, access, "")
		return body{"access_token": access, "token_type": "bearer", "scope": g.scope}
	}
	access, refresh := "ghu_"+randomFrom(githubTokenAlphabet, 36), "ghr_"+randomFrom(githubTokenAlphabet, 76)
	s.issueLocked(g, family, s.opts.TokenLifetime, access, refresh)
	return body{
		"access_token": access, "expires_in": seconds(s.opts.TokenLifetime),
		"refresh_token": refresh, "refresh_token_expires_in": 15897600,
		"token_type": "bearer", "scope": "",
	}
}

// githubAnswers are the token endpoint's answers to a poll that issues nothing.
var githubAnswers = map[outcome][2]string{
	outUnknown: {"incorrect_device_code", "The device_code provided is not valid."},
	outExpired: {"expired_token", "The device_code has expired."},
	outPending: {"authorization_pending", "The authorization request is still pending."},
	outDenied:  {"access_denied", "The authorization request was denied."},
}

const githubTokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
