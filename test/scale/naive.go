package main

import (
	"context"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// naiveResult is one flow of the naive client. The token itself is dropped at once.
type naiveResult struct {
	UserCode string
	// TokenAt is when DeviceAccessToken returned the token: the token in hand.
	TokenAt time.Time
	Err     error
}

// runNaive runs n device flows side by side, the way a program without an operator would: one
// goroutine per flow, golang.org/x/oauth2's DeviceAuth and then its blocking DeviceAccessToken,
// which waits one interval before each poll. It returns when every flow has ended.
func runNaive(ctx context.Context, deviceAuthURL, tokenURL, clientID string, n int) []naiveResult {
	cfg := &oauth2.Config{
		ClientID: clientID,
		Endpoint: oauth2.Endpoint{DeviceAuthURL: deviceAuthURL, TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams},
		Scopes:   []string{scopeNaive},
	}
	// One connection per flow at most, kept between polls, as n separate programs would have.
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		Proxy: nil, MaxIdleConns: n, MaxIdleConnsPerHost: n, IdleConnTimeout: time.Minute,
	}}
	defer hc.CloseIdleConnections()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, hc)

	out := make([]naiveResult, n)
	var wg sync.WaitGroup
	for i := range out {
		wg.Go(func() {
			da, err := cfg.DeviceAuth(ctx)
			if err != nil {
				out[i].Err = err
				return
			}
			out[i].UserCode = da.UserCode
			if _, err := cfg.DeviceAccessToken(ctx, da); err != nil {
				out[i].Err = err
				return
			}
			out[i].TokenAt = time.Now()
		})
	}
	wg.Wait()
	return out
}
