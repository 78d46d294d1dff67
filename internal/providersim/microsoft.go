package providersim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Microsoft Entra ID, as the identity platform's device code flow documentation describes it:
//   - POST /{tenant}/oauth2/v2.0/devicecode and /{tenant}/oauth2/v2.0/token; the v1 endpoints
//     /{tenant}/oauth2/devicecode and /{tenant}/oauth2/token are served too.
//   - the device answer has verification_uri https://microsoft.com/devicelogin on another host,
//     a message field with instructions, and no verification_uri_complete; v1 says
//     verification_url and sends expires_in and interval as strings.
//   - errors are HTTP 400 (401 for invalid_client) with error, error_description (AADSTS text),
//     error_codes, timestamp, trace_id, correlation_id and error_uri.
//   - beyond RFC 8628's codes: authorization_declined (the person said no) and
//     bad_verification_code (unknown device code).
//   - a public client must not send a secret (AADSTS700025); a confidential one must.
//   - access tokens are JWTs; a refresh token only when offline_access was asked for; an ID token
//     with openid, issued by https://login.microsoftonline.com/{tid}/v2.0 with the directory's ID
//     in tid (whatever authority was asked: common and organizations too), signed with the keys
//     at /{tenant}/discovery/v2.0/keys. A refresh answers a new refresh token, and the old one
//     stays valid.
//   - v1 token answers send expires_in, ext_expires_in, expires_on and not_before as strings.
//
// Entra does not document slow_down for the device flow; the simulation still refuses early
// polls with it (and ForceSlowDown plays a provider that sends it).

const microsoftVerificationURI = "https://microsoft.com/devicelogin"

// MicrosoftConsumersTenant is the directory of personal Microsoft accounts, which the consumers
// authority signs in.
const MicrosoftConsumersTenant = "9188040d-6c67-4c5b-b112-36a304b66dad"

// MicrosoftIssuer is the iss of the v2.0 ID tokens of the directory tenantID.
func MicrosoftIssuer(tenantID string) string {
	return "https://login.microsoftonline.com/" + tenantID + "/v2.0"
}

// TenantID is the directory (tid) that the simulated Entra signs users in to.
func (s *Server) TenantID() string { return s.opts.TenantID }

// microsoftV1 reports whether a request came to a v1 endpoint.
func microsoftV1(c *call) bool { return !strings.Contains(c.r.URL.Path, "/v2.0/") }

// MicrosoftV1DeviceAuthorizationURL and MicrosoftV1TokenURL are the tenant's v1 endpoints.
func (s *Server) MicrosoftV1DeviceAuthorizationURL() string { return s.URL() + "/oauth2/devicecode" }

// MicrosoftV1TokenURL is the tenant's v1 token endpoint.
func (s *Server) MicrosoftV1TokenURL() string { return s.URL() + "/oauth2/token" }

func (s *Server) microsoftRoutes() map[string]route {
	post, p := []string{http.MethodPost}, s.paths
	t := "/" + s.opts.Tenant
	return map[string]route{
		t + p.device:             {EndpointDevice, post, s.microsoftDevice},
		t + p.token:              {EndpointToken, post, s.microsoftToken},
		t + "/oauth2/devicecode": {EndpointDevice, post, s.microsoftDevice},
		t + "/oauth2/token":      {EndpointToken, post, s.microsoftToken},
		t + p.jwks:               {EndpointJWKS, []string{http.MethodGet}, s.serveJWKS},
	}
}

// microsoftError answers in Entra's error shape.
func (s *Server) microsoftError(c *call, status int, code string, aadsts int, text string) {
	now := s.clock.Now().UTC()
	trace, corr := uuid(), uuid()
	c.json(status, body{
		"error": code,
		"error_description": fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s",
			aadsts, text, trace, corr, now.Format("2006-01-02 15:04:05Z")),
		"error_codes":    []int{aadsts},
		"timestamp":      now.Format("2006-01-02 15:04:05Z"),
		"trace_id":       trace,
		"correlation_id": corr,
		"error_uri":      fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", aadsts),
	})
}

func (s *Server) microsoftDevice(c *call) {
	id := c.form.Get("client_id")
	switch {
	case id == "":
		s.microsoftError(c, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
		return
	case id != s.opts.ClientID:
		s.microsoftError(c, http.StatusBadRequest, "unauthorized_client", 700016,
			fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", id, s.opts.Tenant))
		return
	case !microsoftV1(c) && len(c.scopes()) == 0:
		s.microsoftError(c, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'.")
		return
	}
	s.mu.Lock()
	userCode := s.userCodeLocked(func() string { return randomFrom("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", 9) })
	g := s.newGrantLocked("DAQABIQEAAAD"+randomB64(96), userCode, strings.Join(c.scopes(), " "))
	s.mu.Unlock()
	message := fmt.Sprintf("To sign in, use a web browser to open the page %s and enter the code %s to authenticate.",
		microsoftVerificationURI, g.userCode)
	if microsoftV1(c) {
		c.json(http.StatusOK, body{
			"user_code": g.userCode, "device_code": g.deviceCode, "verification_url": microsoftVerificationURI,
			"expires_in": fmt.Sprint(seconds(s.opts.CodeLifetime)), "interval": fmt.Sprint(seconds(s.opts.Interval)),
			"message": message,
		})
		return
	}
	c.json(http.StatusOK, body{
		"user_code": g.userCode, "device_code": g.deviceCode, "verification_uri": microsoftVerificationURI,
		"expires_in": seconds(s.opts.CodeLifetime), "interval": seconds(s.opts.Interval), "message": message,
	})
}

// microsoftClientOK applies Entra's client authentication, answering when it fails.
func (s *Server) microsoftClientOK(c *call) bool {
	cr, _, malformed := c.credentials()
	switch {
	case malformed || cr.id == "":
		s.microsoftError(c, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
	case cr.id != s.opts.ClientID:
		s.microsoftError(c, http.StatusBadRequest, "unauthorized_client", 700016,
			fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", cr.id, s.opts.Tenant))
	case s.opts.ClientSecret == "" && cr.secret != "":
		s.microsoftError(c, http.StatusUnauthorized, "invalid_client", 700025,
			"Client is public so neither 'client_assertion' nor 'client_secret' should be presented.")
	case s.opts.ClientSecret != "" && cr.secret == "":
		s.microsoftError(c, http.StatusUnauthorized, "invalid_client", 7000218,
			"The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	case s.opts.ClientSecret != "" && cr.secret != s.opts.ClientSecret:
		s.microsoftError(c, http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided.")
	default:
		return true
	}
	return false
}

func (s *Server) microsoftToken(c *call) {
	if !s.microsoftClientOK(c) {
		return
	}
	gt := c.form.Get("grant_type")
	switch {
	case gt == DeviceGrantType, gt == "device_code" && microsoftV1(c):
		s.microsoftDeviceGrant(c)
	case gt == "refresh_token":
		s.microsoftRefresh(c)
	default:
		s.microsoftError(c, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '"+gt+"'.")
	}
}

// microsoftAnswers are the code, AADSTS number and text of a poll that issues nothing.
var microsoftAnswers = map[outcome]struct {
	code string
	n    int
	text string
}{
	outUnknown:  {"bad_verification_code", 70019, "Verification code is not recognized."},
	outExpired:  {"expired_token", 70020, "The provided value for the input parameter 'device_code' is not valid. This device code has expired."},
	outSlowDown: {"slow_down", 70016, "OAuth 2.0 device flow error. Polling too frequently. Slow down."},
	outPending:  {"authorization_pending", 70016, "OAuth 2.0 device flow error. Authorization is pending. Continue polling."},
	outDenied:   {"authorization_declined", 70000, "The user declined the authorization request."},
}

func (s *Server) microsoftDeviceGrant(c *call) {
	dc := c.form.Get("device_code")
	if dc == "" && microsoftV1(c) {
		dc = c.form.Get("code") // v1's own parameter name
	}
	g, out, tok := s.pollGrant(dc, func(g *grant) body { return s.microsoftIssueLocked(g, 0, microsoftV1(c)) })
	if out == outApproved {
		c.tokens(g, tok)
		return
	}
	a := microsoftAnswers[out]
	s.notePoll(g, a.code, http.StatusBadRequest)
	s.microsoftError(c, http.StatusBadRequest, a.code, a.n, a.text)
}

func (s *Server) microsoftRefresh(c *call) {
	s.mu.Lock()
	var tok body
	if old, ok := s.presentRefreshLocked(c.form.Get("refresh_token")); ok {
		old.rotated = true // Entra answers a new one; the old one stays valid until it expires
		tok = s.microsoftIssueLocked(standIn(old, old.scope), old.family, microsoftV1(c))
	}
	s.mu.Unlock()
	if tok == nil {
		s.microsoftError(c, http.StatusBadRequest, "invalid_grant", 70008,
			"The provided authorization code or refresh token has expired due to inactivity.")
		return
	}
	c.json(http.StatusOK, tok)
}

// microsoftIssueLocked mints a JWT access token, a refresh token with offline_access and an ID
// token with openid.
func (s *Server) microsoftIssueLocked(g *grant, family int, v1 bool) body {
	scopes := strings.Fields(g.scope)
	now := s.clock.Now()
	exp := now.Add(s.opts.TokenLifetime)
	access := s.sign(map[string]any{
		"aud": "00000003-0000-0000-c000-000000000000", "iss": "https://sts.windows.net/" + s.opts.TenantID + "/", "tid": s.opts.TenantID,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": exp.Unix(), "upn": g.user.Email, "oid": uuid(),
		"scp": strings.Join(slices.DeleteFunc(slices.Clone(scopes), isOIDCScope), " "), "uti": randomB64(16),
	})
	refresh := ""
	if slices.Contains(scopes, "offline_access") {
		refresh = "0.AXEA" + randomB64(180)
	}
	s.issueLocked(g, family, s.opts.TokenLifetime, access, refresh)
	granted := strings.Join(slices.DeleteFunc(slices.Clone(scopes), func(sc string) bool { return sc == "offline_access" }), " ")
	life := seconds(s.opts.TokenLifetime) - 1
	b := body{"token_type": "Bearer", "scope": granted, "access_token": access}
	if v1 {
		b["expires_in"], b["ext_expires_in"] = fmt.Sprint(life), fmt.Sprint(life)
		b["expires_on"], b["not_before"] = fmt.Sprint(exp.Unix()), fmt.Sprint(now.Unix())
		b["resource"] = "00000003-0000-0000-c000-000000000000"
	} else {
		b["expires_in"], b["ext_expires_in"] = life, life
	}
	if refresh != "" {
		b["refresh_token"] = refresh
	}
	if slices.Contains(scopes, "openid") {
		id := s.sign(map[string]any{
			"aud": s.opts.ClientID, "iss": MicrosoftIssuer(s.opts.TenantID), "tid": s.opts.TenantID,
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"name": g.user.Name, "preferred_username": g.user.Email, "oid": uuid(), "sub": randomB64(32), "ver": "2.0",
		})
		s.noteIDTokenLocked(id)
		b["id_token"] = id
	}
	return b
}

func isOIDCScope(sc string) bool {
	return sc == "openid" || sc == "profile" || sc == "email" || sc == "offline_access"
}

// uuid is a random version-4 UUID, as Entra's trace and correlation IDs are.
func uuid() string {
	h := randomHex(16)
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:]
}

// defaultTenantID is the directory behind an authority: the tenant it names by ID, the personal
// accounts' for consumers, a random one for common, organizations or a domain name.
func defaultTenantID(tenant string) string {
	switch t := strings.ToLower(tenant); {
	case len(t) == 36 && strings.Count(t, "-") == 4:
		return t
	case t == "consumers":
		return MicrosoftConsumersTenant
	}
	return uuid()
}
