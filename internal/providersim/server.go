// Package providersim plays well-known OAuth providers for tests: for each preset of
// internal/presets, an HTTP server on 127.0.0.1 that answers the device authorization grant and
// the refresh grant with that provider's own shapes (paths, status codes, content types, field
// names, error codes, client authentication rules, polling and rotation rules), so that the
// conformance specs drive the real controller through each provider's quirks.
//
// Unlike internal/testidp, which is a strict RFC provider, a simulation reproduces a provider's
// deviations from the RFCs on purpose. Where a provider's documentation is silent, the simulation
// is strict (it refuses early polls with slow_down) and the code says so.
//
// Controls play the person and the provider's back office: Approve, Deny, Expire, ForceSlowDown,
// RevokeRefreshTokens. Every request is recorded (never a parameter value), so that tests can
// check what the client sent.
package providersim

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"time"
)

// Provider names a simulated provider; the values are the preset names.
type Provider string

// The simulated providers.
const (
	Sentry    Provider = "Sentry"
	GitHub    Provider = "GitHub"
	Google    Provider = "Google"
	Microsoft Provider = "Microsoft"
	GitLab    Provider = "GitLab"
)

// Endpoint names used in Request.Endpoint and Count.
const (
	EndpointDevice    = "device"
	EndpointToken     = "token"
	EndpointRevoke    = "revoke"
	EndpointUserinfo  = "userinfo"
	EndpointDiscovery = "discovery"
	EndpointJWKS      = "jwks"
	EndpointPage      = "page"
	EndpointUnknown   = "unknown"
)

// DeviceGrantType is the RFC 8628 grant_type value.
const DeviceGrantType = "urn:ietf:params:oauth:grant-type:device_code"

// pollLeeway absorbs the jitter between when a client sends a poll and when it arrives: a poll
// that much early is not answered with slow_down.
const pollLeeway = 100 * time.Millisecond

// Options shapes a simulation. Zero values mean the provider's own defaults.
type Options struct {
	// ClientID is the only application the provider knows; default "sim-client".
	ClientID string
	// ClientSecret makes the application confidential; "" is a public application (Sentry,
	// Microsoft and GitLab then refuse or ignore a secret as they do; GitHub needs one only to
	// refresh; Google needs one to poll).
	ClientSecret string
	// Interval is the polling interval announced and enforced, in whole seconds (at least 1s);
	// default 5s, as every simulated provider announces.
	Interval time.Duration
	// CodeLifetime is how long a device code lives; default the provider's own.
	CodeLifetime time.Duration
	// TokenLifetime is the access token lifetime; default the provider's own.
	TokenLifetime time.Duration
	// SlowDownStep is how much a slow_down raises a device code's interval; default 5s (RFC 8628
	// section 3.5). GitHub announces the raised interval in its slow_down answer.
	SlowDownStep time.Duration
	// RateWindow (Sentry) is the fixed window in which a device code may be polled once; default
	// 5s. Sentry keeps the window after a slow_down rather than raising an interval.
	RateWindow time.Duration
	// ExpiringTokens (GitHub) simulates a GitHub App with expiring user tokens: 8-hour access
	// tokens and rotating refresh tokens. False is an OAuth App: tokens without expiry, no refresh.
	ExpiringTokens bool
	// DeviceFlowDisabled (GitHub) simulates an application without the device flow enabled.
	DeviceFlowDisabled bool
	// Tenant (Microsoft) is the authority's path segment; default "common".
	Tenant string
	// TenantID (Microsoft) is the directory users sign in to, the tid of the tokens; default
	// Tenant when that is a tenant ID, MicrosoftConsumersTenant for consumers, else a random ID.
	TenantID string
}

// Request is one request as the simulation saw it. Parameter values are never recorded.
type Request struct {
	Endpoint   string // EndpointDevice, EndpointToken, ...
	Method     string
	Path       string
	GrantType  string // token endpoint only
	Accept     string // the Accept header
	ClientAuth string // "none", "basic", "post" or "basic+post"
	Params     []string
	Status     int    // HTTP status answered
	Error      string // the OAuth error code answered; "" for a success
	Time       time.Time
}

// Poll is one token request for a device code, and what it was answered.
type Poll struct {
	Time time.Time
	// Answer is the error code, or "token" when tokens were issued.
	Answer string
	// Status is the HTTP status of the answer.
	Status int
}

// CodeInfo describes one device authorization for tests.
type CodeInfo struct {
	Scope                           string
	Interval                        time.Duration // enforced now (slow_down raises it)
	ExpiresAt                       time.Time
	Polls                           []Poll
	ForcedSlowDowns, EarnedSlowDown int
	// AccessToken and RefreshToken are what the approval issued ("" before, and RefreshToken ""
	// when the provider issued none).
	AccessToken, RefreshToken string
}

// User is who approves a code.
type User struct {
	ID, Name, Email, Login string
}

// Server is a running simulation. Its methods are safe for concurrent use.
type Server struct {
	provider Provider
	opts     Options
	ts       *httptest.Server
	key      *rsa.PrivateKey
	kid      string
	routes   map[string]route

	mu        sync.Mutex
	requests  []Request
	grants    map[string]*grant // by device code
	userCodes map[string]*grant // by user code
	order     []string          // user codes in issue order
	access    map[string]*accessToken
	refresh   map[string]*refreshToken
	windows   map[string]window // Sentry: per device code
	used      []string          // refresh tokens presented, in order
	secrets   []string          // every code and token issued, for leak scans
	families  int
	users     int
}

// route is one path the provider serves.
type route struct {
	endpoint string
	methods  []string
	handle   func(*call)
}

type grantState int

const (
	statePending grantState = iota
	stateApproved
	stateDenied
)

// grant is one device authorization.
type grant struct {
	deviceCode, userCode string
	scope                string
	issuedAt, expiresAt  time.Time
	interval             time.Duration
	lastPoll             time.Time
	state                grantState
	user                 User
	consumed             bool
	forced               int
	forcedSent, earned   int
	polls                []Poll
	access, refresh      string
}

// accessToken and refreshToken belong to a family: the tokens of one approval and its refreshes.
type accessToken struct {
	family    int
	user      User
	scope     string
	expiresAt time.Time // zero: never expires
	revoked   bool
}

type refreshToken struct {
	family  int
	user    User
	scope   string
	rotated bool // used once; a provider that rotates refuses it from then on
	revoked bool
}

// window is Sentry's fixed rate-limit window for one device code.
type window struct {
	bucket int64
	count  int
}

// New starts a simulation of p on 127.0.0.1. It panics on failure, like httptest.NewServer.
func New(p Provider, o Options) *Server {
	if o.ClientID == "" {
		o.ClientID = "sim-client"
	}
	if o.Interval <= 0 {
		o.Interval = 5 * time.Second
	}
	o.Interval = max(o.Interval.Round(time.Second), time.Second)
	if o.SlowDownStep <= 0 {
		o.SlowDownStep = 5 * time.Second
	}
	if o.RateWindow <= 0 {
		o.RateWindow = 5 * time.Second
	}
	if o.Tenant == "" {
		o.Tenant = "common"
	}
	if o.TenantID == "" {
		o.TenantID = defaultTenantID(o.Tenant)
	}
	def := defaults[p]
	if def.codeLifetime == 0 {
		panic(fmt.Sprintf("providersim: unknown provider %q", p))
	}
	if o.CodeLifetime <= 0 {
		o.CodeLifetime = def.codeLifetime
	}
	if o.TokenLifetime <= 0 {
		o.TokenLifetime = def.tokenLifetime
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(fmt.Sprintf("providersim: generating RSA key: %v", err))
	}
	s := &Server{
		provider:  p,
		opts:      o,
		key:       key,
		kid:       randomHex(8),
		grants:    map[string]*grant{},
		userCodes: map[string]*grant{},
		access:    map[string]*accessToken{},
		refresh:   map[string]*refreshToken{},
		windows:   map[string]window{},
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("providersim: listening on 127.0.0.1: %v", err))
	}
	s.ts = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	s.ts.Listener.Close()
	s.ts.Listener = l
	s.ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.ts.Start()
	switch p {
	case Sentry:
		s.routes = s.sentryRoutes()
	case GitHub:
		s.routes = s.githubRoutes()
	case Google:
		s.routes = s.googleRoutes()
	case Microsoft:
		s.routes = s.microsoftRoutes()
	case GitLab:
		s.routes = s.gitlabRoutes()
	}
	return s
}

// defaults are each provider's own lifetimes.
var defaults = map[Provider]struct{ codeLifetime, tokenLifetime time.Duration }{
	Sentry:    {10 * time.Minute, 30 * 24 * time.Hour},
	GitHub:    {15 * time.Minute, 8 * time.Hour},
	Google:    {30 * time.Minute, time.Hour},
	Microsoft: {15 * time.Minute, time.Hour},
	GitLab:    {5 * time.Minute, 2 * time.Hour},
}

// Close stops the server.
func (s *Server) Close() {
	s.ts.CloseClientConnections()
	s.ts.Close()
}

// Provider is the simulated provider.
func (s *Server) Provider() Provider { return s.provider }

// ClientID is the application's client ID.
func (s *Server) ClientID() string { return s.opts.ClientID }

// Host is the server's root, http://127.0.0.1:PORT.
func (s *Server) Host() string { return s.ts.URL }

// URL is what a preset's issuerURL names: the instance's base URL, or for Microsoft the tenant's
// authority (Host()/<tenant>).
func (s *Server) URL() string {
	if s.provider == Microsoft {
		return s.ts.URL + "/" + s.opts.Tenant
	}
	return s.ts.URL
}

// DeviceAuthorizationURL is where the preset's device path leads.
func (s *Server) DeviceAuthorizationURL() string { return s.URL() + devicePaths[s.provider] }

// TokenURL is the token endpoint.
func (s *Server) TokenURL() string { return s.URL() + tokenPaths[s.provider] }

var devicePaths = map[Provider]string{
	Sentry: "/oauth/device/code/", GitHub: "/login/device/code", Google: "/device/code",
	Microsoft: "/oauth2/v2.0/devicecode", GitLab: "/oauth/authorize_device",
}

var tokenPaths = map[Provider]string{
	Sentry: "/oauth/token/", GitHub: "/login/oauth/access_token", Google: "/token",
	Microsoft: "/oauth2/v2.0/token", GitLab: "/oauth/token",
}

// serveHTTP routes, records and answers one request.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	rec := Request{
		Method: r.Method, Path: r.URL.Path, Accept: r.Header.Get("Accept"),
		Time: time.Now(), Endpoint: EndpointUnknown,
	}
	c := &call{s: s, w: w, r: r, rec: &rec}
	defer func() {
		s.mu.Lock()
		s.requests = append(s.requests, rec)
		s.mu.Unlock()
	}()
	rt, ok := s.routes[r.URL.Path]
	if !ok {
		// Django, Rails and GitHub all answer an unknown path with an HTML page.
		c.html(http.StatusNotFound, "<!DOCTYPE html><html><body><h1>Not Found</h1></body></html>")
		return
	}
	rec.Endpoint = rt.endpoint
	allowed := false
	for _, m := range rt.methods {
		allowed = allowed || m == r.Method
	}
	if !allowed {
		w.Header().Set("Allow", strings.Join(rt.methods, ", "))
		c.html(http.StatusMethodNotAllowed, "<html><body>Method Not Allowed</body></html>")
		return
	}
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			c.html(http.StatusBadRequest, "<html><body>Bad Request</body></html>")
			return
		}
		c.form = r.PostForm
		for k := range r.PostForm {
			rec.Params = append(rec.Params, k)
		}
		sort.Strings(rec.Params)
		if rt.endpoint == EndpointToken {
			rec.GrantType = r.PostForm.Get("grant_type")
		}
	}
	rec.ClientAuth = clientAuthKind(r, c.form)
	rt.handle(c)
}
