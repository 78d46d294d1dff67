package oauth

import "errors"

// Endpoint labels passed to Client.Observe.
const (
	EndpointDeviceAuthorization = "device_authorization"
	EndpointToken               = "token"
	EndpointRefresh             = "refresh"
	EndpointRevocation          = "revocation"
)

// Outcome labels passed to Client.Observe. They are a fixed set, so a
// counter labelled with them has bounded cardinality whatever providers send.
const (
	// OutcomeSuccess: a usable answer.
	OutcomeSuccess = "success"
	// OutcomeAuthorizationPending: the person has not approved yet.
	OutcomeAuthorizationPending = "authorization_pending"
	// OutcomeSlowDown: the provider asked to poll less often.
	OutcomeSlowDown = "slow_down"
	// OutcomeOAuthError: any other *Error (the code itself is not a label,
	// since providers choose it).
	OutcomeOAuthError = "oauth_error"
	// OutcomeTransientError: a *TransientError (network, 5xx, 429, ...).
	OutcomeTransientError = "transient_error"
	// OutcomeProtocolError: a *ProtocolError, an answer that breaks the RFC
	// or a connection this package refused (redirect, address policy).
	OutcomeProtocolError = "protocol_error"
)

// outcome maps a method's result onto its Outcome label.
func outcome(err error) string {
	var oe *Error
	var te *TransientError
	switch {
	case err == nil:
		return OutcomeSuccess
	case errors.As(err, &oe):
		switch oe.Code {
		case "authorization_pending":
			return OutcomeAuthorizationPending
		case "slow_down":
			return OutcomeSlowDown
		}
		return OutcomeOAuthError
	case errors.As(err, &te):
		return OutcomeTransientError
	default:
		return OutcomeProtocolError
	}
}

// observe reports one request to c.Observe, if set.
func (c *Client) observe(cfg ClientConfig, endpoint string, err error) {
	if c.Observe != nil {
		c.Observe(cfg.Provider, endpoint, outcome(err))
	}
}
