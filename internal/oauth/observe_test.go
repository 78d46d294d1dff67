package oauth

import (
	"net/http"
	"sync"
	"testing"
)

// observation is one Client.Observe call.
type observation struct{ provider, endpoint, outcome string }

// recorder collects Client.Observe calls.
type recorder struct {
	mu  sync.Mutex
	got []observation
}

func (r *recorder) observe(provider, endpoint, outcome string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, observation{provider, endpoint, outcome})
}

func (r *recorder) take() []observation {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.got
	r.got = nil
	return got
}

func TestObserve(t *testing.T) {
	answers := []struct {
		name    string
		handler http.HandlerFunc
		// want is the outcome for device, poll, refresh and revoke.
		want [4]string
	}{
		{"success", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/device" {
				reply(w, 200, "application/json", deviceOK)
				return
			}
			reply(w, 200, "application/json", tokenOK)
		}, [4]string{OutcomeSuccess, OutcomeSuccess, OutcomeSuccess, OutcomeSuccess}},
		{"authorization_pending", replyJSON(400, `{"error":"authorization_pending"}`),
			[4]string{OutcomeAuthorizationPending, OutcomeAuthorizationPending, OutcomeAuthorizationPending, OutcomeAuthorizationPending}},
		{"slow_down", replyJSON(400, `{"error":"slow_down"}`),
			[4]string{OutcomeSlowDown, OutcomeSlowDown, OutcomeSlowDown, OutcomeSlowDown}},
		{"provider-chosen code", replyJSON(400, `{"error":"anything_at_all_\u2603"}`),
			[4]string{OutcomeOAuthError, OutcomeOAuthError, OutcomeOAuthError, OutcomeOAuthError}},
		{"503", replyJSON(503, `{}`),
			[4]string{OutcomeTransientError, OutcomeTransientError, OutcomeTransientError, OutcomeTransientError}},
		{"429 with an OAuth error", replyJSON(429, `{"error":"invalid_grant"}`),
			[4]string{OutcomeTransientError, OutcomeTransientError, OutcomeTransientError, OutcomeTransientError}},
		{"unusable 2xx", replyJSON(200, `{"token_type":"Bearer"}`),
			// Revoke ignores a success body; the others need fields in it.
			[4]string{OutcomeProtocolError, OutcomeProtocolError, OutcomeProtocolError, OutcomeSuccess}},
	}
	endpoints := [4]string{EndpointDeviceAuthorization, EndpointToken, EndpointRefresh, EndpointRevocation}
	for _, a := range answers {
		t.Run(a.name, func(t *testing.T) {
			p := newProvider(t, a.handler)
			rec := &recorder{}
			c := &Client{HTTP: testHTTP(), Observe: rec.observe}
			cfg := testConfig(p)
			cfg.Provider = "OAuthProvider/team-a/idp"
			for i, op := range operations {
				_ = op.run(t.Context(), c, cfg)
				got := rec.take()
				want := observation{"OAuthProvider/team-a/idp", endpoints[i], a.want[i]}
				if len(got) != 1 || got[0] != want {
					t.Errorf("%s: observed %v, want exactly [%v]", op.name, got, want)
				}
			}
		})
	}
}

// TestObserveOnlyRequests: nothing is counted when no request is sent, and a
// nil Observe is fine.
func TestObserveOnlyRequests(t *testing.T) {
	rec := &recorder{}
	c := &Client{HTTP: testHTTP(), Observe: rec.observe}
	cfg := ClientConfig{ClientID: "x", Provider: "p"}
	for _, op := range operations {
		_ = op.run(t.Context(), c, cfg) // no endpoint configured
	}
	_, _ = c.PollToken(t.Context(), ClientConfig{Endpoints: Endpoints{TokenURL: "http://127.0.0.1:1/t"}, AuthStyle: "Weird"}, testDeviceCode)
	if got := rec.take(); len(got) != 0 {
		t.Errorf("observed %v without a request", got)
	}

	p := newProvider(t, replyJSON(200, tokenOK))
	if _, err := (&Client{HTTP: testHTTP()}).PollToken(t.Context(), testConfig(p), testDeviceCode); err != nil {
		t.Fatal(err)
	}
}
