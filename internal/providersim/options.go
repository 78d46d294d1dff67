package providersim

import (
	"math"
	"time"

	"k8s.io/utils/clock"
)

// Options shapes a provider. Zero values mean the dialect's own defaults; fields marked with a
// dialect shape that dialect only.
type Options struct {
	// ClientID is the only application the provider knows; default "test-client" (RFC) or
	// "sim-client".
	ClientID string
	// ClientSecret makes the application confidential; "" is a public application, which each
	// dialect refuses or ignores a secret from as its provider does (GitHub needs one only to
	// refresh; Google needs one to poll; RFC wants it with HTTP Basic or in the body, never both).
	ClientSecret string
	// Interval is the polling interval announced and enforced; the wire carries whole seconds, so
	// it is rounded up to whole seconds (at least 1s); default 5s.
	Interval time.Duration
	// PollLeeway tolerates polls that arrive this much earlier than the interval, to absorb
	// network jitter in real-clock tests; default 0 (RFC) or 100ms.
	PollLeeway time.Duration
	// FirstPollWait also enforces the interval between the device authorization answer and the
	// first poll. RFC 8628 only speaks of the time between polls, so this is off by default.
	FirstPollWait bool
	// SlowDownStep is how much a slow_down raises a device code's interval; default 5s (RFC 8628
	// section 3.5). GitHub announces the raised interval in its slow_down answer.
	SlowDownStep time.Duration
	// CodeLifetime is how long a device code lives; default the provider's own (RFC: 5m).
	CodeLifetime time.Duration
	// TokenLifetime is the access token lifetime; default the provider's own (RFC: 1h).
	TokenLifetime time.Duration
	// Clock decides every expiry and slow_down and stamps what is recorded; nil is the real clock.
	Clock clock.PassiveClock

	// OmitInterval (RFC) leaves interval out of the device authorization answer; RFC 8628 section
	// 3.2 then obliges the client to use 5s, and that is what is enforced, whatever Interval says.
	OmitInterval bool
	// NoExpiry (RFC) omits expires_in and makes access tokens valid until revoked.
	NoExpiry bool
	// NoRotation (RFC) keeps the refresh token on refresh: no new one is sent, the old one stays
	// valid. Rotation is the default because it breaks clients that do not store the new one.
	NoRotation bool
	// NoRefreshToken (RFC) never issues refresh tokens.
	NoRefreshToken bool
	// OIDC (RFC) serves /.well-known/openid-configuration and adds an RS256 id_token to token
	// answers whose scope has openid.
	OIDC bool
	// RFC8414 (RFC) serves /.well-known/oauth-authorization-server; it can be combined with OIDC.
	RFC8414 bool
	// DeviceAuthClientIDOnly (RFC) accepts a bare client_id at the device authorization endpoint
	// even when ClientSecret is set, as Google does. RFC 8628 section 3.1 requires a confidential
	// client to authenticate there, so this is off by default.
	DeviceAuthClientIDOnly bool

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

// withDefaults fills in the zero fields of o with d's defaults.
func withDefaults(d dialect, o Options) Options {
	if o.ClientID == "" {
		o.ClientID = d.clientID
	}
	if o.Interval <= 0 {
		o.Interval = 5 * time.Second
	}
	o.Interval = time.Duration(max(math.Ceil(o.Interval.Seconds()), 1)) * time.Second
	if o.PollLeeway <= 0 {
		o.PollLeeway = d.leeway
	}
	if o.SlowDownStep <= 0 {
		o.SlowDownStep = 5 * time.Second
	}
	if o.CodeLifetime <= 0 {
		o.CodeLifetime = d.codeLifetime
	}
	if o.TokenLifetime <= 0 {
		o.TokenLifetime = d.tokenLifetime
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
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
	return o
}
