// Package testidp is an in-process OAuth 2.0 / OpenID Connect identity
// provider for tests. It implements the Device Authorization Grant
// (RFC 8628), the refresh grant (RFC 6749 section 6), token revocation
// (RFC 7009) and, optionally, OIDC discovery, ID tokens and userinfo.
//
// It is deliberately strict: wherever the RFCs leave a provider room to
// refuse a sloppy request, this server refuses it, so that the operator's
// test suites fail when the client misbehaves instead of passing against a
// forgiving fake. Faults (outages, garbage answers, slow answers) can be
// switched on at runtime to exercise the client's error handling.
package testidp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Endpoint names used by SetFault, Count and Request.Endpoint.
const (
	EndpointDevice    = "device"    // POST /device/code
	EndpointToken     = "token"     // POST /token
	EndpointRevoke    = "revoke"    // POST /revoke
	EndpointUserinfo  = "userinfo"  // GET /userinfo
	EndpointDiscovery = "discovery" // GET /.well-known/...
	EndpointJWKS      = "jwks"      // GET /keys
	EndpointPage      = "page"      // the HTML approval pages under /device
	EndpointUnknown   = "unknown"   // any other path (answered with 404)
	EndpointAll       = "all"       // SetFault only: every endpoint
)

// URL paths served by the provider.
const (
	pathDevice       = "/device/code"
	pathToken        = "/token"
	pathRevoke       = "/revoke"
	pathUserinfo     = "/userinfo"
	pathJWKS         = "/keys"
	pathOIDCConfig   = "/.well-known/openid-configuration"
	pathRFC8414      = "/.well-known/oauth-authorization-server"
	pathVerification = "/device"
	pathApprove      = "/device/approve"
	pathAuthorize    = "/authorize"
)

// Options shapes the provider. The zero value is a plain OAuth 2.0 provider
// with the RFC defaults, a public client "test-client" and refresh token
// rotation.
type Options struct {
	// Interval is the device polling interval announced to the client and
	// enforced with slow_down. The wire format only carries whole seconds,
	// so it is rounded up to whole seconds (at least 1s); default 5s.
	Interval time.Duration
	// OmitInterval leaves interval out of the device authorization
	// response. RFC 8628 3.2 then obliges the client to use 5s, and that is
	// what the server enforces, whatever Interval says.
	OmitInterval bool
	// FirstPollWait also enforces the interval between the device
	// authorization response and the first poll. RFC 8628 only speaks of
	// the time between polls, so this is off by default.
	FirstPollWait bool
	// PollLeeway tolerates polls that arrive this much earlier than the
	// interval, to absorb network jitter in real-clock tests; default 0.
	PollLeeway time.Duration
	// CodeLifetime is how long a device code can be polled; default 5m.
	CodeLifetime time.Duration
	// TokenLifetime is the access token lifetime (expires_in); default 1h.
	TokenLifetime time.Duration
	// NoExpiry omits expires_in and makes access tokens valid until
	// revoked or ExpireAccessTokens, as RFC 6749 permits.
	NoExpiry bool
	// NoRotation keeps the refresh token unchanged on refresh (no new
	// refresh_token in the response, the old one stays valid). Rotation
	// is the default because it is what breaks clients that do not store
	// the new refresh token.
	NoRotation bool
	// NoRefreshToken never issues refresh tokens.
	NoRefreshToken bool
	// OIDC serves /.well-known/openid-configuration and adds an RS256
	// id_token to token responses whose scope contains "openid".
	OIDC bool
	// RFC8414 serves /.well-known/oauth-authorization-server. It can be
	// combined with OIDC.
	RFC8414 bool
	// Clock decides every expiry and slow_down, and stamps Request.Time;
	// nil means the real clock.
	Clock clock.PassiveClock
	// ClientID is the only client the provider knows; default
	// "test-client".
	ClientID string
	// ClientSecret makes the client confidential: it must authenticate
	// with HTTP Basic or client_secret in the body (never both). When
	// empty the client is public and must not send a secret.
	ClientSecret string
	// DeviceAuthClientIDOnly accepts a bare client_id at the device
	// authorization endpoint even when ClientSecret is set, as Google
	// does. RFC 8628 3.1 requires a confidential client to authenticate
	// there (golang.org/x/oauth2's DeviceAuth does not, unless given the
	// secret as an extra parameter), so this is off by default.
	DeviceAuthClientIDOnly bool
}

// Server is a running provider. All methods are safe for concurrent use.
type Server struct {
	opts     Options
	clock    clock.PassiveClock
	interval time.Duration // enforced base polling interval
	ts       *httptest.Server
	key      *rsa.PrivateKey
	kid      string

	closing   chan struct{}
	closeOnce sync.Once

	mu        sync.Mutex
	faults    map[string]Fault
	requests  []Request
	devices   map[string]*deviceGrant // by device code
	userCodes map[string]string       // user code -> device code
	lastUser  string
	access    map[string]*accessToken
	refresh   map[string]*refreshToken
	issuedAT  []string
	issuedRT  []string
	issuedDC  []string
	revoked   []string
	nextGrant int
	// slowDowns answers this many coming device-grant polls with slow_down (ForceSlowDown).
	slowDowns int
	// slowDownsSent counts slow_down answers, forced or earned.
	slowDownsSent int
	// refreshMarks holds the times of successful refreshes by grant (CodeTimelines).
	refreshMarks map[int][]time.Time
}

// New starts a provider on 127.0.0.1 with an ephemeral port. It panics on
// failure, like httptest.NewServer, because tests cannot proceed without it.
func New(o Options) *Server {
	if o.Interval <= 0 {
		o.Interval = 5 * time.Second
	}
	if o.CodeLifetime <= 0 {
		o.CodeLifetime = 5 * time.Minute
	}
	if o.TokenLifetime <= 0 {
		o.TokenLifetime = time.Hour
	}
	if o.ClientID == "" {
		o.ClientID = "test-client"
	}
	s := &Server{
		opts:      o,
		clock:     o.Clock,
		closing:   make(chan struct{}),
		faults:    map[string]Fault{},
		devices:   map[string]*deviceGrant{},
		userCodes: map[string]string{},
		access:    map[string]*accessToken{},
		refresh:   map[string]*refreshToken{},
	}
	if s.clock == nil {
		s.clock = clock.RealClock{}
	}
	s.interval = time.Duration(s.intervalSeconds()) * time.Second
	if o.OmitInterval {
		s.interval = 5 * time.Second
	}

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(fmt.Sprintf("testidp: generating RSA key: %v", err))
	}
	s.key = key
	s.kid = randomToken()[:16]

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("testidp: listening on 127.0.0.1: %v", err))
	}
	s.ts = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	s.ts.Listener.Close()
	s.ts.Listener = l
	// Aborted and hijacked connections are part of the fault modes; their
	// log lines would only be noise in test output.
	s.ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.ts.Start()
	return s
}

// Close stops the server. Handlers stuck in a fault (hang, trickle, huge)
// are released first, so Close returns promptly and leaves no goroutine
// behind.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.ts.CloseClientConnections()
		s.ts.Close()
	})
}

// URL is the base URL (http://127.0.0.1:PORT) and also the issuer.
func (s *Server) URL() string { return s.ts.URL }

// DeviceAuthorizationURL is the RFC 8628 device authorization endpoint.
func (s *Server) DeviceAuthorizationURL() string { return s.URL() + pathDevice }

// TokenURL is the RFC 6749 token endpoint.
func (s *Server) TokenURL() string { return s.URL() + pathToken }

// RevocationURL is the RFC 7009 revocation endpoint.
func (s *Server) RevocationURL() string { return s.URL() + pathRevoke }

// UserinfoURL is the OIDC userinfo endpoint.
func (s *Server) UserinfoURL() string { return s.URL() + pathUserinfo }

// JWKSURL is where the ID token signing key is published.
func (s *Server) JWKSURL() string { return s.URL() + pathJWKS }

// VerificationURL is the page a person visits to enter the user code.
func (s *Server) VerificationURL() string { return s.URL() + pathVerification }

// Client returns an HTTP client for the server, as httptest does.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// intervalSeconds is the interval as sent on the wire.
func (s *Server) intervalSeconds() int64 {
	secs := int64(math.Ceil(s.opts.Interval.Seconds()))
	if secs < 1 {
		secs = 1
	}
	return secs
}

// route maps a request path to its endpoint name and handler.
func (s *Server) route(path string) (string, http.HandlerFunc) {
	switch path {
	case pathDevice:
		return EndpointDevice, s.handleDeviceAuthorization
	case pathToken:
		return EndpointToken, s.handleToken
	case pathRevoke:
		return EndpointRevoke, s.handleRevoke
	case pathUserinfo:
		return EndpointUserinfo, s.handleUserinfo
	case pathJWKS:
		return EndpointJWKS, s.handleJWKS
	case pathOIDCConfig, pathRFC8414:
		return EndpointDiscovery, s.handleDiscovery
	case pathVerification:
		return EndpointPage, s.handleVerificationPage
	case pathApprove:
		return EndpointPage, s.handleApprovePage
	}
	return EndpointUnknown, http.NotFound
}

// serveHTTP records every request before anything else, so that faults and
// refusals are observable too, then applies the active fault or dispatches.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	endpoint, handler := s.route(r.URL.Path)
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	// Parsed up front so refused requests are recorded with their grant
	// type; a second ParseForm would not report the error, so it travels
	// in the context to the handlers that need a form.
	if formErr := r.ParseForm(); formErr != nil {
		r = r.WithContext(context.WithValue(r.Context(), formErrKey{}, formErr))
	}

	rec := Request{
		Endpoint:   endpoint,
		Method:     r.Method,
		Time:       s.clock.Now(),
		ClientAuth: clientAuthKind(r),
	}
	if endpoint == EndpointToken {
		rec.GrantType = r.PostForm.Get("grant_type")
	}

	s.mu.Lock()
	f := s.faults[endpoint]
	if f == FaultNone {
		f = s.faults[EndpointAll]
	}
	rec.Fault = f
	s.requests = append(s.requests, rec)
	s.mu.Unlock()

	if f != FaultNone {
		s.serveFault(w, r, f)
		return
	}
	handler(w, r)
}

// formErrKey carries the error of the up-front ParseForm.
type formErrKey struct{}

// randomToken returns 32 random bytes, base64url without padding: enough
// entropy that leak scans cannot match anything by accident.
func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("testidp: reading random bytes: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
