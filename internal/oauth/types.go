package oauth

import "time"

// Endpoints are the provider URLs in use, from configuration or Discover.
type Endpoints struct {
	// Issuer is the OIDC issuer; "" when the provider is not OIDC, which
	// also disables ID token verification in Subject.
	Issuer string
	// DeviceAuthorizationURL is where device codes are requested (RFC 8628
	// section 3.1); it has no OAuth 2.0 default, so it is required.
	DeviceAuthorizationURL string
	// TokenURL serves the device_code and refresh_token grants.
	TokenURL string
	// RevocationURL is "" when the provider has no RFC 7009 endpoint.
	RevocationURL string
	// UserinfoURL is "" when there is none.
	UserinfoURL string
	// JWKSURL is "" when there is none.
	JWKSURL string
}

// AuthStyle is how the client authenticates to the provider (RFC 6749
// section 2.3.1); providers reject the wrong one, so it is configurable.
type AuthStyle string

const (
	// AuthNone is a public client: client_id in the body only.
	AuthNone AuthStyle = "None"
	// AuthBasic sends HTTP Basic with client_id and client_secret each
	// form-url-encoded (RFC 6749 section 2.3.1) and no credentials in the
	// body: the RFC allows client_id there too, but Sentry refuses both.
	AuthBasic AuthStyle = "ClientSecretBasic"
	// AuthPost sends client_id and client_secret in the body.
	AuthPost AuthStyle = "ClientSecretPost"
)

// Quirks are provider deviations switched on by presets. What every provider
// gets needs no quirk: Accept: application/json goes with every request
// (GitHub answers form-encoded without it), form-encoded answers are parsed
// anyway, and the refresh grant never sends scope (Sentry refuses it).
type Quirks struct {
	// PollMargin is added to every polling interval the provider states
	// (Sentry answers slow_down when polled exactly at the interval).
	PollMargin time.Duration
	// CommaSeparatedScope says the provider (GitHub) lists granted scopes
	// separated by commas ("repo,gist"); Token.Scope is rewritten with
	// spaces, as RFC 6749 section 3.3 has it.
	CommaSeparatedScope bool
	// ErrorCodes maps the provider's own error codes to the RFC code that
	// means the same (GitHub's bad_refresh_token is invalid_grant, Entra's
	// authorization_declined is access_denied), so that callers switch on
	// RFC codes only. Error.ProviderCode keeps what the provider sent. The
	// map is shared and must not be modified.
	ErrorCodes map[string]string
}

// ClientConfig is everything needed to talk to one provider as one client.
type ClientConfig struct {
	// Endpoints are the URLs to call; Discover can fill them in.
	Endpoints Endpoints
	// ClientID identifies the operator's registration at the provider.
	ClientID string
	// ClientSecret is "" for public clients; it is masked in every error.
	ClientSecret string
	// AuthStyle "" means AuthBasic when ClientSecret is set, else AuthNone.
	AuthStyle AuthStyle
	// Quirks switch on provider deviations.
	Quirks Quirks
	// Provider labels this provider in Client.Observe, e.g.
	// "ClusterOAuthProvider/dex". It is never sent anywhere and must never
	// hold a secret.
	Provider string
}

// DeviceRequest is what to ask for in a device authorization request.
type DeviceRequest struct {
	// Scopes are joined with spaces into `scope` when non-empty.
	Scopes []string
	// Audience is sent as `audience` when set (Auth0 and others need it).
	Audience string
	// Parameters are extra form parameters. They may not set client_id,
	// client_secret, scope or audience: those have their own fields, and a
	// silent override would be a confusing misconfiguration.
	Parameters map[string]string
}

// DeviceAuthorization is a provider's answer to a device authorization
// request (RFC 8628 section 3.2), normalised.
type DeviceAuthorization struct {
	// DeviceCode is a secret: whoever holds it can collect the tokens
	// once the person approves, so it is masked in every error.
	DeviceCode string
	// UserCode is what the person types; it is meant to be shown, so it is
	// checked: 1 to 64 ASCII letters, digits, '-' and spaces, or the
	// response is refused.
	UserCode string
	// VerificationURI is verification_uri, or verification_url (Google), or
	// verification_uri_complete without its query if only that was sent.
	// It is an absolute http(s) URL without userinfo, of at most 2048
	// printable characters, or the response is refused.
	VerificationURI string
	// VerificationURIComplete embeds the user code so a person can skip
	// typing it; "" when not sent or when it fails VerificationURI's rules.
	VerificationURIComplete string
	// ExpiresIn is the device code lifetime: 5m when absent or not
	// positive (it is REQUIRED, but failing a login over it helps nobody),
	// capped at 24h.
	ExpiresIn time.Duration
	// Interval is the minimum time between polls: 5s when the provider sends
	// none, 0, a negative number or something that is not a number (RFC
	// 8628 section 3.2 makes 5s the default), otherwise clamped to
	// [1s, 10m]; plus Quirks.PollMargin when from a Client.
	Interval time.Duration
	// Message is the provider's instruction text (Entra sends one), passed
	// through SanitizeDisplay with a limit of 1 KiB.
	Message string
}

// Token is a successful token response (RFC 6749 section 5.1).
type Token struct {
	// AccessToken is always non-empty in a Token returned without error.
	AccessToken string
	// TokenType is "Bearer" when the provider omits it.
	TokenType string
	// RefreshToken is "" when the provider issues none (GitHub OAuth apps
	// without expiring tokens, for one).
	RefreshToken string
	// IDToken is the raw OIDC ID token, unverified until Subject checks it.
	IDToken string
	// Scope is as granted, "" when not sent.
	Scope string
	// ExpiresIn is the access token lifetime, at least 1s; 0 means the
	// provider sent no expires_in (the token does not expire) or one that
	// makes no sense, which LifetimeProblem then describes.
	ExpiresIn time.Duration
	// LifetimeProblem is "" unless expires_in was present but 0, negative
	// or not a number; then it says what was sent (e.g. "expires_in was
	// 0"), for the controller to floor its refresh schedule and report.
	// Such a token is still returned: it may carry a rotated refresh token.
	LifetimeProblem string
	// Extra holds the other top-level string and number fields, numbers as
	// their text, e.g. GitHub's or Sentry's non-standard ones.
	Extra map[string]string
	// Rotated is true when Refresh got a refresh token different from the
	// one it sent, so the controller knows to store the new one.
	Rotated bool
}
