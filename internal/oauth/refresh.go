package oauth

import (
	"context"
	"errors"
	"net/url"
)

// Refresh exchanges a refresh token (RFC 6749 section 6). The returned
// Token.RefreshToken is the new one if the provider rotated it, else the one
// sent; Rotated tells which.
//
// The grant is posted here and read by parseToken, like every other token
// answer, rather than through golang.org/x/oauth2: that library's parser
// refuses answers ours accepts (a fractional expires_in such as 3599.5, for
// one), and a refused answer throws away a rotated refresh token that the
// provider has already invalidated the old one for, so the login would need
// a person again. It also hides fields the controller needs (Extra) and
// reports unusable answers as untyped errors.
func (c *Client) Refresh(ctx context.Context, cfg ClientConfig, refreshToken string) (_ *Token, err error) {
	if refreshToken == "" {
		return nil, errors.New("oauth: no refresh token to refresh with")
	}
	// No scope: leaving it out keeps the scope granted (RFC 6749 section
	// 6), and Sentry refuses a refresh that sends one.
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	secrets := []string{refreshToken, cfg.ClientSecret}
	hreq, err := c.formRequest(ctx, cfg, cfg.Endpoints.TokenURL, "token URL", form)
	if err != nil {
		return nil, err
	}
	defer func() { c.observe(cfg, EndpointRefresh, err) }()
	resp, err := c.do(ctx, hreq)
	if err != nil {
		return nil, err
	}
	tok, err := parseToken(resp.status, resp.header, resp.body, secrets)
	if err != nil {
		return nil, cfg.Quirks.translateError(err)
	}
	tok.Rotated = tok.RefreshToken != "" && tok.RefreshToken != refreshToken
	if tok.RefreshToken == "" {
		tok.RefreshToken = refreshToken
	}
	cfg.Quirks.normalizeToken(tok)
	return tok, nil
}
