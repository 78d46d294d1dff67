// Package testidp is an in-process OAuth 2.0 / OpenID Connect identity provider for tests: the
// device authorization grant (RFC 8628), the refresh grant (RFC 6749 section 6), revocation
// (RFC 7009) and, optionally, OIDC discovery, ID tokens and userinfo.
//
// It is deliberately strict: wherever the RFCs leave a provider room to refuse a sloppy request,
// it refuses it, so that the operator's test suites fail when the client misbehaves instead of
// passing against a forgiving fake. Faults (outages, garbage answers, slow answers) can be
// switched on at runtime to exercise the client's error handling, and a clock decides every
// expiry and slow_down.
//
// It is the RFC dialect of internal/providersim, which the preset simulations share: one core of
// state, issuance, rotation, signing, slow_down accounting, faults and controls. This package
// gives it the names the operator's tests have always used.
package testidp

import "github.com/devicelogin-dev/devicelogin-operator/internal/providersim"

// Options shapes the provider; see providersim.Options (the fields marked RFC are this one's).
// The zero value is a plain OAuth 2.0 provider with the RFC defaults, a public client
// "test-client" and refresh token rotation.
type Options = providersim.Options

// Request is one request as the server saw it.
type Request = providersim.Request

// Fault replaces an endpoint's answer with a failure a real provider or the network in front of
// it can produce.
type Fault = providersim.Fault

// The fault modes.
const (
	FaultNone    = providersim.FaultNone
	FaultDown    = providersim.FaultDown
	Fault500     = providersim.Fault500
	Fault429     = providersim.Fault429
	FaultHang    = providersim.FaultHang
	FaultHTML    = providersim.FaultHTML
	FaultGarbage = providersim.FaultGarbage
	FaultHuge    = providersim.FaultHuge
	FaultTrickle = providersim.FaultTrickle

	HugeBodySize = providersim.HugeBodySize
	TrickleEvery = providersim.TrickleEvery
)

// Endpoint names used by SetFault, Count and Request.Endpoint.
const (
	EndpointDevice    = providersim.EndpointDevice    // POST /device/code
	EndpointToken     = providersim.EndpointToken     // POST /token
	EndpointRevoke    = providersim.EndpointRevoke    // POST /revoke
	EndpointUserinfo  = providersim.EndpointUserinfo  // GET /userinfo
	EndpointDiscovery = providersim.EndpointDiscovery // GET /.well-known/...
	EndpointJWKS      = providersim.EndpointJWKS      // GET /keys
	EndpointPage      = providersim.EndpointPage      // the HTML approval pages under /device
	EndpointUnknown   = providersim.EndpointUnknown   // any other path (answered with 404)
	EndpointAll       = providersim.EndpointAll       // SetFault only: every endpoint
)

// Client authentication kinds recorded in Request.ClientAuth.
const (
	AuthNone  = providersim.AuthNone
	AuthBasic = providersim.AuthBasic
	AuthPost  = providersim.AuthPost
	AuthBoth  = providersim.AuthBoth // always refused; recorded so tests can spot it
)

// DeviceGrantType is the RFC 8628 grant_type value.
const DeviceGrantType = providersim.DeviceGrantType

// AnyCode makes ForceSlowDown answer the polls of whichever codes are polled.
const AnyCode = providersim.AnyCode

// Server is a running provider. All methods are safe for concurrent use.
type Server struct {
	*providersim.Server
}

// New starts a provider on 127.0.0.1 with an ephemeral port. It panics on failure, like
// httptest.NewServer, because tests cannot proceed without it.
func New(o Options) *Server { return &Server{providersim.New(providersim.RFC, o)} }

// ForceSlowDown answers the next n device-grant polls, of whichever code, with slow_down.
//
// Deprecated: use s.Server.ForceSlowDown(AnyCode, n), the simulations' control; this name stays
// while controllers/devicelogin_envtest_test.go calls it.
func (s *Server) ForceSlowDown(n int) { _ = s.Server.ForceSlowDown(AnyCode, n) }

// InvalidateRefreshTokens simulates the provider dropping every session.
//
// Deprecated: use RevokeRefreshTokens, which it calls; this name stays while
// controllers/devicelogin_envtest_test.go calls it.
func (s *Server) InvalidateRefreshTokens() { s.RevokeRefreshTokens() }
