package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/oauth2"
)

// Refresh exchanges a refresh token (RFC 6749 section 6) through x/oauth2.
// The returned Token.RefreshToken is the new one if the provider rotated it,
// else the one sent; Rotated tells which.
func (c *Client) Refresh(ctx context.Context, cfg ClientConfig, refreshToken string) (*Token, error) {
	if refreshToken == "" {
		return nil, errors.New("oauth: no refresh token to refresh with")
	}
	if cfg.Endpoints.TokenURL == "" {
		return nil, errors.New("oauth: no token URL configured")
	}
	style, err := effectiveAuthStyle(cfg)
	if err != nil {
		return nil, err
	}
	conf := oauth2.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		Endpoint:     oauth2.Endpoint{TokenURL: cfg.Endpoints.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
	}
	switch style {
	case AuthBasic:
		// x/oauth2 puts no credentials in the body then, as Sentry needs.
		conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	case AuthNone:
		// In params with an empty secret, x/oauth2 sends client_id alone.
		conf.ClientSecret = ""
	}
	secrets := []string{refreshToken, cfg.ClientSecret}

	// The recorder sees the raw response, because x/oauth2 hides fields
	// we need (Extra) and reports unusable bodies with untyped errors.
	var rec responseRecord
	ctx2 := context.WithValue(ctx, oauth2.HTTPClient, libraryClient(c.httpClient(), &rec))
	ot, err := conf.TokenSource(ctx2, &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		return nil, cfg.Quirks.translateError(refreshError(ctx, err, &rec, secrets))
	}

	tok := &Token{
		AccessToken:  ot.AccessToken,
		TokenType:    ot.TokenType,
		RefreshToken: ot.RefreshToken,
		Rotated:      ot.RefreshToken != "" && ot.RefreshToken != refreshToken,
	}
	if tok.TokenType == "" {
		tok.TokenType = "Bearer"
	}
	if tok.RefreshToken == "" {
		tok.RefreshToken = refreshToken
	}
	if s, ok := ot.Extra("id_token").(string); ok {
		tok.IDToken = s
	}
	if s, ok := ot.Extra("scope").(string); ok {
		tok.Scope = s
	}
	switch {
	case ot.ExpiresIn > 0:
		tok.ExpiresIn = min(time.Duration(ot.ExpiresIn)*time.Second, maxTokenLifetime)
	case !ot.Expiry.IsZero():
		// x/oauth2 only fills ExpiresIn for JSON; form answers set Expiry.
		tok.ExpiresIn = max(time.Until(ot.Expiry).Round(time.Second), time.Second)
	}
	if rec.seen {
		if parsed, perr := parseToken(rec.status, rec.header, rec.body, secrets); perr == nil {
			tok.Extra = parsed.Extra
		}
	}
	cfg.Quirks.normalizeToken(tok)
	return tok, nil
}

// refreshError maps x/oauth2 failures onto our error types. RetrieveError's
// own Error() quotes the response body, so only its fields are used.
func refreshError(ctx context.Context, err error, rec *responseRecord, secrets []string) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		var header http.Header
		if re.Response != nil {
			status, header = re.Response.StatusCode, re.Response.Header
		}
		if header == nil {
			header = http.Header{}
		}
		if re.ErrorCode != "" && status < 500 {
			return oauthError(status, header, fields{
				"error":             re.ErrorCode,
				"error_description": re.ErrorDescription,
			}, secrets)
		}
		return statusError(status, header)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// Do failed (network, redirect refused, body too large), even if
		// the recorder saw a response on the way.
		return transportError(ctx, err)
	}
	if rec.seen {
		// A response arrived but x/oauth2 could not use it (not JSON, no
		// access_token): classify it exactly as PollToken would.
		if _, perr := parseToken(rec.status, rec.header, rec.body, secrets); perr != nil {
			return perr
		}
		return &ProtocolError{Reason: "token response could not be used"}
	}
	return transportError(ctx, err)
}
