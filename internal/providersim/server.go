// Package providersim plays OAuth providers for tests: an HTTP server on 127.0.0.1 that answers the
// device authorization grant (RFC 8628), the refresh grant and revocation in one provider's
// dialect. Six dialects share one core (device codes, polling rules and slow_down accounting,
// token issuance, rotation and revocation, JWT signing, faults, a clock and the controls):
//
//   - RFC is the strict RFC provider (internal/testidp gives it its historical names): wherever the
//     RFCs leave a provider room to refuse a sloppy request, it refuses it, so that a client's
//     tests fail when the client misbehaves instead of passing against a forgiving fake.
//   - Sentry, GitHub, Google, Microsoft and GitLab play the presets of internal/presets with each
//     provider's own shapes (paths, status codes, content types, field names, error codes, client
//     authentication, polling and rotation rules), deviations from the RFCs included, so that the
//     conformance specs drive the real controller through each provider's quirks. Where a
//     provider's documentation is silent, the simulation is strict (it refuses early polls with
//     slow_down) and the code says so.
//
// Controls play the person and the provider's back office: Approve, Deny, Expire, ForceSlowDown,
// RevokeRefreshTokens, ExpireAccessTokens and SetFault. Every request is recorded (never a
// parameter value), so that tests can check what the client sent.
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

	"k8s.io/utils/clock"
)

// Provider names a dialect; the values of the vendors' are the preset names.
type Provider string

// The dialects.
const (
	RFC       Provider = "RFC"
	Sentry    Provider = "Sentry"
	GitHub    Provider = "GitHub"
	Google    Provider = "Google"
	Microsoft Provider = "Microsoft"
	GitLab    Provider = "GitLab"
)

// Endpoint names used in Request.Endpoint, Count and SetFault.
const (
	EndpointDevice    = "device"
	EndpointToken     = "token"
	EndpointRevoke    = "revoke"
	EndpointUserinfo  = "userinfo"
	EndpointDiscovery = "discovery"
	EndpointJWKS      = "jwks"
	EndpointPage      = "page"    // the pages a person visits
	EndpointUnknown   = "unknown" // any other path (answered with 404)
	EndpointAll       = "all"     // SetFault only: every endpoint
)

// Client authentication kinds recorded in Request.ClientAuth.
const (
	AuthNone  = "none"
	AuthBasic = "basic"
	AuthPost  = "post"
	AuthBoth  = "basic+post"
)

// DeviceGrantType is the RFC 8628 grant_type value.
const DeviceGrantType = "urn:ietf:params:oauth:grant-type:device_code"

// Server is a running provider. Its methods are safe for concurrent use.
type Server struct {
	provider Provider
	opts     Options
	clock    clock.PassiveClock
	ts       *httptest.Server
	key      *rsa.PrivateKey
	kid      string
	routes   map[string]route
	paths    paths

	closing   chan struct{}
	closeOnce sync.Once

	mu        sync.Mutex
	faults    map[string]Fault
	requests  []Request
	grants    map[string]*grant // by device code
	userCodes map[string]*grant // by canonical user code
	order     []*grant          // in issue order
	access    map[string]*accessToken
	refresh   map[string]*refreshToken
	windows   map[string]window // Sentry: per device code
	used      []string          // refresh tokens presented, in order
	revoked   []string          // tokens submitted for revocation, in order
	issued    issued
	refreshed map[int][]time.Time // refresh times by family
	forcedAny int                 // slow_down answers owed to the next polls of any code
	families  int
	users     int
}

// route is one path the provider serves. methods nil lets the handler check the method.
type route struct {
	endpoint string
	methods  []string
	handle   func(*call)
}

// paths are where a dialect serves its endpoints, under URL(); "" where it has none.
type paths struct{ device, token, revoke, userinfo, jwks, page string }

// dialect is what a provider brings to the core.
type dialect struct {
	paths                               paths
	routes                              func(*Server) map[string]route
	clientID                            string
	codeLifetime, tokenLifetime, leeway time.Duration
}

var dialects = map[Provider]dialect{
	RFC: {paths{"/device/code", "/token", "/revoke", "/userinfo", "/keys", "/device"},
		(*Server).rfcRoutes, "test-client", 5 * time.Minute, time.Hour, 0},
	Sentry: {paths{device: "/oauth/device/code/", token: "/oauth/token/", page: "/oauth/device/"},
		(*Server).sentryRoutes, "sim-client", 10 * time.Minute, 30 * 24 * time.Hour, pollLeeway},
	GitHub: {paths{device: "/login/device/code", token: "/login/oauth/access_token", userinfo: "/api/v3/user", page: "/login/device"},
		(*Server).githubRoutes, "sim-client", 15 * time.Minute, 8 * time.Hour, pollLeeway},
	Google: {paths{device: "/device/code", token: "/token", revoke: "/revoke", jwks: "/oauth2/v3/certs"},
		(*Server).googleRoutes, "sim-client", 30 * time.Minute, time.Hour, pollLeeway},
	Microsoft: {paths{device: "/oauth2/v2.0/devicecode", token: "/oauth2/v2.0/token", jwks: "/discovery/v2.0/keys"},
		(*Server).microsoftRoutes, "sim-client", 15 * time.Minute, time.Hour, pollLeeway},
	GitLab: {paths{"/oauth/authorize_device", "/oauth/token", "/oauth/revoke", "/oauth/userinfo", "/oauth/discovery/keys", "/oauth/device"},
		(*Server).gitlabRoutes, "sim-client", 5 * time.Minute, 2 * time.Hour, pollLeeway},
}

// pollLeeway absorbs the jitter between when a client sends a poll and when it arrives: a poll
// that much early is not answered with slow_down (the vendors' default PollLeeway).
const pollLeeway = 100 * time.Millisecond

// New starts a provider speaking p's dialect on 127.0.0.1. It panics on failure, like
// httptest.NewServer, because tests cannot proceed without it.
func New(p Provider, o Options) *Server {
	d, ok := dialects[p]
	if !ok {
		panic(fmt.Sprintf("providersim: unknown provider %q", p))
	}
	o = withDefaults(d, o)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(fmt.Sprintf("providersim: generating RSA key: %v", err))
	}
	s := &Server{
		provider: p, opts: o, clock: o.Clock, key: key, kid: randomHex(8), paths: d.paths,
		closing: make(chan struct{}), faults: map[string]Fault{},
		grants: map[string]*grant{}, userCodes: map[string]*grant{},
		access: map[string]*accessToken{}, refresh: map[string]*refreshToken{},
		windows: map[string]window{}, refreshed: map[int][]time.Time{},
	}
	s.routes = d.routes(s)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("providersim: listening on 127.0.0.1: %v", err))
	}
	s.ts = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	s.ts.Listener.Close()
	s.ts.Listener = l
	// Aborted and hijacked connections are part of the fault modes; their log lines would only be
	// noise in test output.
	s.ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.ts.Start()
	return s
}

// Close stops the server. Handlers stuck in a fault (hang, trickle, huge) are released first, so
// Close returns promptly and leaves no goroutine behind.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.ts.CloseClientConnections()
		s.ts.Close()
	})
}

// Provider is the dialect spoken.
func (s *Server) Provider() Provider { return s.provider }

// ClientID is the application's client ID.
func (s *Server) ClientID() string { return s.opts.ClientID }

// Host is the server's root, http://127.0.0.1:PORT.
func (s *Server) Host() string { return s.ts.URL }

// URL is what a provider's issuerURL names: the base URL (RFC: also the issuer), or for
// Microsoft the tenant's authority (Host()/<tenant>).
func (s *Server) URL() string {
	if s.provider == Microsoft {
		return s.ts.URL + "/" + s.opts.Tenant
	}
	return s.ts.URL
}

// Client returns an HTTP client for the server, as httptest does.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// DeviceAuthorizationURL is the device authorization endpoint.
func (s *Server) DeviceAuthorizationURL() string { return s.at(s.paths.device) }

// TokenURL is the token endpoint.
func (s *Server) TokenURL() string { return s.at(s.paths.token) }

// RevocationURL is the RFC 7009 endpoint; "" when the provider has none.
func (s *Server) RevocationURL() string { return s.at(s.paths.revoke) }

// UserinfoURL is where a token names its user; "" when the provider has no such endpoint.
func (s *Server) UserinfoURL() string { return s.at(s.paths.userinfo) }

// JWKSURL is where the ID token signing key is published; "" when the provider issues none.
func (s *Server) JWKSURL() string { return s.at(s.paths.jwks) }

// VerificationURL is the page a person visits to enter the user code, where the provider serves
// it itself; "" when it is on another host.
func (s *Server) VerificationURL() string { return s.at(s.paths.page) }

func (s *Server) at(path string) string {
	if path == "" {
		return ""
	}
	return s.URL() + path
}

// serveHTTP records every request before anything else, so that faults and refusals are
// observable too, then applies the active fault or routes the request.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	rt, known := s.routes[r.URL.Path]
	// Parsed up front so that refused requests are recorded with their grant type and client
	// authentication; the error goes to the handlers that need a form.
	formErr := r.ParseForm()
	rec := Request{
		Endpoint: EndpointUnknown, Method: r.Method, Path: r.URL.Path, Accept: r.Header.Get("Accept"),
		ClientAuth: clientAuthKind(r, r.PostForm), Time: s.clock.Now(),
	}
	if known {
		rec.Endpoint = rt.endpoint
	}
	if rec.Endpoint == EndpointToken {
		rec.GrantType = r.PostForm.Get("grant_type")
	}
	for k := range r.PostForm {
		rec.Params = append(rec.Params, k)
	}
	sort.Strings(rec.Params)

	s.mu.Lock()
	f := s.faults[rec.Endpoint]
	if f == FaultNone {
		f = s.faults[EndpointAll]
	}
	rec.Fault = f
	idx := len(s.requests)
	s.requests = append(s.requests, rec)
	s.mu.Unlock()
	if f != FaultNone {
		s.serveFault(w, r, f)
		return
	}

	c := &call{s: s, w: w, r: r, form: r.PostForm, formErr: formErr, rec: &rec}
	defer func() {
		s.mu.Lock()
		s.requests[idx].Status, s.requests[idx].Error = rec.Status, rec.Error
		s.mu.Unlock()
	}()
	switch {
	case !known:
		// Django, Rails and GitHub all answer an unknown path with an HTML page.
		c.html(http.StatusNotFound, "<!DOCTYPE html><html><body><h1>Not Found</h1></body></html>")
	case rt.methods != nil && !allowed(rt.methods, r.Method):
		w.Header().Set("Allow", strings.Join(rt.methods, ", "))
		c.html(http.StatusMethodNotAllowed, "<html><body>Method Not Allowed</body></html>")
	case rt.methods != nil && r.Method == http.MethodPost && formErr != nil:
		c.html(http.StatusBadRequest, "<html><body>Bad Request</body></html>")
	default:
		rt.handle(c)
	}
}

func allowed(methods []string, m string) bool {
	for _, a := range methods {
		if a == m {
			return true
		}
	}
	return false
}
