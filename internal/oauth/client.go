package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// deviceGrantType is the RFC 8628 section 3.4 grant type.
const deviceGrantType = "urn:ietf:params:oauth:grant-type:device_code"

// DeviceFlow is the seam the controller depends on, so its tests can fake
// providers without HTTP. Each method makes one request and returns (Subject
// makes at most a JWKS fetch or one userinfo request).
type DeviceFlow interface {
	RequestDeviceCode(ctx context.Context, cfg ClientConfig, req DeviceRequest) (*DeviceAuthorization, error)
	PollToken(ctx context.Context, cfg ClientConfig, deviceCode string) (*Token, error)
	Refresh(ctx context.Context, cfg ClientConfig, refreshToken string) (*Token, error)
	Revoke(ctx context.Context, cfg ClientConfig, token, tokenTypeHint string) error
	Subject(ctx context.Context, cfg ClientConfig, tok *Token) (string, error)
}

var _ DeviceFlow = (*Client)(nil)

// Client talks to providers. It holds no per-provider state except cached
// ID token verifiers, so one Client serves every resource. Do not copy a
// Client after first use.
type Client struct {
	// HTTP is used as is; build it with NewHTTPClient. When nil, a client
	// from NewHTTPClient(HTTPOptions{}) is used, never http.DefaultClient,
	// which has no timeout and follows redirects anywhere.
	HTTP *http.Client

	// Observe, when set, is called once for each request RequestDeviceCode,
	// PollToken, Refresh and Revoke send, with ClientConfig.Provider, the
	// endpoint (Endpoint* constants) and the outcome (Outcome* constants),
	// for request counters. Its labels never hold a provider-chosen string.
	// It must be safe for concurrent use and return quickly.
	Observe func(provider, endpoint, outcome string)

	// verifiers caches one ID token verifier per (issuer, JWKS URL, client
	// ID), so go-oidc's key cache survives between reconciles.
	verifiers sync.Map
}

// defaultHTTP is shared so nil-HTTP Clients still reuse connections.
var defaultHTTP = sync.OnceValue(func() *http.Client { return NewHTTPClient(HTTPOptions{}) })

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP()
}

// reservedParams have dedicated fields (or are credentials) in DeviceRequest.
var reservedParams = []string{"client_id", "client_secret", "scope", "audience"}

// RequestDeviceCode starts a device authorization (RFC 8628 section 3.1).
// The returned Interval already includes Quirks.PollMargin.
func (c *Client) RequestDeviceCode(ctx context.Context, cfg ClientConfig, req DeviceRequest) (_ *DeviceAuthorization, err error) {
	form := url.Values{}
	for k, v := range req.Parameters {
		if slices.Contains(reservedParams, k) {
			return nil, fmt.Errorf("oauth: parameter %q is reserved; use the dedicated field", k)
		}
		form.Set(k, v) // Encode sorts keys, so the body is deterministic
	}
	scopes := slices.DeleteFunc(slices.Clone(req.Scopes), func(s string) bool { return s == "" })
	if len(scopes) > 0 {
		form.Set("scope", strings.Join(scopes, " "))
	}
	if req.Audience != "" {
		form.Set("audience", req.Audience)
	}
	secrets := []string{cfg.ClientSecret}
	hreq, err := c.formRequest(ctx, cfg, cfg.Endpoints.DeviceAuthorizationURL, "device authorization URL", form)
	if err != nil {
		return nil, err
	}
	defer func() { c.observe(cfg, EndpointDeviceAuthorization, err) }()
	resp, err := c.do(ctx, hreq)
	if err != nil {
		return nil, err
	}
	d, err := parseDevice(resp.status, resp.header, resp.body, secrets)
	if err != nil {
		return nil, cfg.Quirks.translateError(err)
	}
	d.Interval += cfg.Quirks.PollMargin
	return d, nil
}

// PollToken makes ONE device access token request (RFC 8628 section 3.4)
// and returns at once: authorization_pending and slow_down come back as
// *Error for the controller to reschedule. This is hand-written because
// x/oauth2's Config.DeviceAccessToken loops and sleeps until approval, which
// would pin a reconcile worker for minutes.
func (c *Client) PollToken(ctx context.Context, cfg ClientConfig, deviceCode string) (_ *Token, err error) {
	if deviceCode == "" {
		return nil, errors.New("oauth: no device code to poll with")
	}
	form := url.Values{"grant_type": {deviceGrantType}, "device_code": {deviceCode}}
	secrets := []string{deviceCode, cfg.ClientSecret}
	hreq, err := c.formRequest(ctx, cfg, cfg.Endpoints.TokenURL, "token URL", form)
	if err != nil {
		return nil, err
	}
	defer func() { c.observe(cfg, EndpointToken, err) }()
	resp, err := c.do(ctx, hreq)
	if err != nil {
		return nil, err
	}
	tok, err := parseToken(resp.status, resp.header, resp.body, secrets)
	if err != nil {
		err = cfg.Quirks.translateError(err)
		var oe *Error
		if errors.As(err, &oe) && oe.Interval > 0 {
			oe.Interval += cfg.Quirks.PollMargin
		}
		return nil, err
	}
	cfg.Quirks.normalizeToken(tok)
	return tok, nil
}

// Revoke revokes a token (RFC 7009). With no revocation URL there is
// nothing to do, which is not an error: the caller deletes its copy anyway.
func (c *Client) Revoke(ctx context.Context, cfg ClientConfig, token, tokenTypeHint string) (err error) {
	if cfg.Endpoints.RevocationURL == "" || token == "" {
		return nil
	}
	form := url.Values{"token": {token}}
	if tokenTypeHint != "" {
		form.Set("token_type_hint", tokenTypeHint)
	}
	secrets := []string{token, cfg.ClientSecret}
	hreq, err := c.formRequest(ctx, cfg, cfg.Endpoints.RevocationURL, "revocation URL", form)
	if err != nil {
		return err
	}
	defer func() { c.observe(cfg, EndpointRevocation, err) }()
	resp, err := c.do(ctx, hreq)
	if err != nil {
		return err
	}
	if resp.status >= 200 && resp.status <= 299 {
		// The body of a success is meaningless (RFC 7009 section 2.2),
		// except for providers that report errors with 200.
		if f, _ := decodeBody(resp.header, resp.body); f["error"] != "" {
			return cfg.Quirks.translateError(oauthError(resp.status, resp.header, f, secrets))
		}
		return nil
	}
	_, err = decodeResponse(resp.status, resp.header, resp.body, secrets)
	return cfg.Quirks.translateError(err)
}

// rawResponse is a response whose body has been read within the size cap.
type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

// formRequest builds one form POST with client authentication per cfg. Its
// errors are configuration mistakes found before anything is sent.
func (c *Client) formRequest(ctx context.Context, cfg ClientConfig, endpoint, what string, form url.Values) (*http.Request, error) {
	if endpoint == "" {
		return nil, fmt.Errorf("oauth: no %s configured", what)
	}
	style, err := effectiveAuthStyle(cfg)
	if err != nil {
		return nil, err
	}
	switch style {
	case AuthNone:
		form.Set("client_id", cfg.ClientID)
	case AuthPost:
		form.Set("client_id", cfg.ClientID)
		if cfg.ClientSecret != "" {
			form.Set("client_secret", cfg.ClientSecret)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("oauth: %s is not a valid URL", what)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if style == AuthBasic {
		// RFC 6749 section 2.3.1: each part is form-url-encoded first.
		req.SetBasicAuth(url.QueryEscape(cfg.ClientID), url.QueryEscape(cfg.ClientSecret))
	}
	return req, nil
}

// do sends req through the Client's HTTP client.
func (c *Client) do(ctx context.Context, req *http.Request) (*rawResponse, error) {
	return doRequest(ctx, c.httpClient(), req)
}

// doRequest sends req and reads the body within the size cap, whatever
// client it is given.
func doRequest(ctx context.Context, hc *http.Client, req *http.Request) (*rawResponse, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return nil, transportError(ctx, err)
	}
	defer resp.Body.Close()
	body, err := readLimited(resp.Body)
	if err != nil {
		if errors.Is(err, errBodyTooLarge) {
			return nil, &TransientError{Reason: err.Error(), StatusCode: resp.StatusCode}
		}
		terr := transportError(ctx, err)
		var te *TransientError
		if errors.As(terr, &te) {
			te.StatusCode = resp.StatusCode
		}
		return nil, terr
	}
	return &rawResponse{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// effectiveAuthStyle resolves the "" default and rejects unknown styles,
// which are configuration mistakes no retry will fix.
func effectiveAuthStyle(cfg ClientConfig) (AuthStyle, error) {
	switch cfg.AuthStyle {
	case "":
		if cfg.ClientSecret != "" {
			return AuthBasic, nil
		}
		return AuthNone, nil
	case AuthNone, AuthBasic, AuthPost:
		return cfg.AuthStyle, nil
	default:
		return "", fmt.Errorf("oauth: unknown auth style %q", cfg.AuthStyle)
	}
}
