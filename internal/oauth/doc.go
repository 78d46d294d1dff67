// Package oauth speaks the provider side of the OAuth 2.0 Device Authorization
// Grant (RFC 8628) for the operator: one device-authorization request, one
// non-blocking token poll, one refresh, one revocation or one identity lookup
// per call.
//
// The controller owns time: it decides when to call again, so nothing here
// loops, sleeps or starts goroutines. Every failure is reported as one of a few
// typed errors (*Error, *TransientError, *ProtocolError, *DiscoveryError) so the
// controller can tell "keep polling" from "back off" from "give up" without
// parsing strings, and none of them ever carries a token, device code or client
// secret, because error strings end up in Kubernetes events and status fields
// that many people can read.
package oauth
