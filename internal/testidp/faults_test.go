package testidp

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestFaults(t *testing.T) {
	cases := []struct {
		fault   Fault
		timeout time.Duration
		check   func(t *testing.T, res *http.Response, err error)
	}{
		{FaultDown, time.Second, func(t *testing.T, res *http.Response, err error) {
			if err == nil {
				t.Fatalf("got a response: %d", res.StatusCode)
			}
		}},
		{Fault500, time.Second, wantStatus(500, "")}, //nolint:bodyclose // the loop below closes the body
		{Fault429, time.Second, func(t *testing.T, res *http.Response, err error) {
			wantStatus(429, "")(t, res, err) //nolint:bodyclose // the loop below closes the body
			if res.Header.Get("Retry-After") != "2" {
				t.Errorf("Retry-After %q", res.Header.Get("Retry-After"))
			}
		}},
		{FaultHang, 200 * time.Millisecond, func(t *testing.T, _ *http.Response, err error) {
			if err == nil || !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "Timeout") {
				t.Fatalf("want a client timeout, got %v", err)
			}
		}},
		{FaultHTML, time.Second, func(t *testing.T, res *http.Response, err error) {
			wantStatus(200, "text/html")(t, res, err) //nolint:bodyclose // the loop below closes the body
		}},
		{FaultGarbage, time.Second, func(t *testing.T, res *http.Response, err error) {
			wantStatus(200, "application/json")(t, res, err) //nolint:bodyclose // the loop below closes the body
			b, _ := io.ReadAll(res.Body)
			if json.Valid(b) {
				t.Errorf("garbage is valid JSON: %q", b)
			}
		}},
		{FaultHuge, 5 * time.Second, func(t *testing.T, res *http.Response, err error) {
			wantStatus(200, "application/json")(t, res, err) //nolint:bodyclose // the loop below closes the body
			n, err := io.Copy(io.Discard, res.Body)
			if err != nil || n != HugeBodySize {
				t.Errorf("read %d bytes (%v), want %d", n, err, HugeBodySize)
			}
		}},
		{FaultTrickle, 800 * time.Millisecond, func(t *testing.T, res *http.Response, err error) {
			wantStatus(200, "application/json")(t, res, err) //nolint:bodyclose // the loop below closes the body
			b, err := io.ReadAll(res.Body)
			if err == nil || len(b) < 1 || len(b) > 2 {
				t.Errorf("read %q (%v), want a byte or two then a timeout", b, err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(string(tc.fault), func(t *testing.T) {
			s := start(t, Options{})
			s.SetFault(EndpointToken, tc.fault)
			began := time.Now()
			req, _ := http.NewRequest(http.MethodPost, s.TokenURL(), strings.NewReader(url.Values{"grant_type": {"refresh_token"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			res, err := newClient(tc.timeout).Do(req)
			if res != nil {
				defer res.Body.Close()
			}
			tc.check(t, res, err)
			if d := time.Since(began); d > 1500*time.Millisecond && tc.fault != FaultHuge {
				t.Errorf("took %v", d)
			}
			reqs := s.Requests()
			if len(reqs) != 1 || reqs[0].Fault != tc.fault || reqs[0].GrantType != "refresh_token" {
				t.Errorf("recorded %+v", reqs)
			}
			// Other endpoints are unaffected.
			wantOK(t, post(t, s.DeviceAuthorizationURL(), url.Values{"client_id": {"test-client"}}))
		})
	}
}

func TestHugeWithLimitedReader(t *testing.T) {
	s := start(t, Options{})
	s.SetFault(EndpointAll, FaultHuge)
	res, err := newClient(time.Second).Get(s.URL() + "/keys")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20+1))
	res.Body.Close()
	if len(b) != 1<<20+1 {
		t.Errorf("read %d", len(b))
	}
}

func TestFaultScopeAndToggle(t *testing.T) {
	s := start(t, Options{})
	s.SetFault(EndpointAll, Fault500)
	s.SetFault(EndpointToken, Fault429)
	if r := post(t, s.DeviceAuthorizationURL(), url.Values{"client_id": {"test-client"}}); r.status != 500 {
		t.Errorf("all: device got %d", r.status)
	}
	if r := post(t, s.TokenURL(), url.Values{}); r.status != 429 {
		t.Errorf("token's own fault should win: %d", r.status)
	}
	s.SetFault(EndpointAll, FaultNone)
	s.SetFault(EndpointToken, FaultNone)
	wantOK(t, post(t, s.DeviceAuthorizationURL(), url.Values{"client_id": {"test-client"}}))
	if s.Count(EndpointDevice) != 2 || s.Count(EndpointToken) != 1 {
		t.Errorf("counts device %d token %d", s.Count(EndpointDevice), s.Count(EndpointToken))
	}
	defer func() {
		if recover() == nil {
			t.Error("SetFault accepted an unknown endpoint")
		}
	}()
	s.SetFault("tokne", FaultDown)
}

// TestCloseReleasesStuckHandlers: a client with no timeout must not keep a
// hanging or trickling handler (and Close) alive.
func TestCloseReleasesStuckHandlers(t *testing.T) {
	for _, f := range []Fault{FaultHang, FaultTrickle} {
		t.Run(string(f), func(t *testing.T) {
			s := New(Options{})
			s.SetFault(EndpointToken, f)
			done := make(chan error, 1)
			go func() {
				res, err := newClient(0).Post(s.TokenURL(), "application/x-www-form-urlencoded", strings.NewReader("grant_type=x"))
				if err == nil {
					_, err = io.ReadAll(res.Body)
					res.Body.Close()
				}
				done <- err
			}()
			for deadline := time.Now().Add(time.Second); s.Count(EndpointToken) == 0; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("request never arrived")
				}
			}
			began := time.Now()
			s.Close()
			select {
			case err := <-done:
				if err == nil {
					t.Error("client saw a complete response")
				}
			case <-time.After(time.Second):
				t.Fatal("client still blocked after Close")
			}
			if d := time.Since(began); d > 500*time.Millisecond {
				t.Errorf("Close took %v", d)
			}
			buf := make([]byte, 1<<20)
			if stacks := string(buf[:runtime.Stack(buf, true)]); strings.Contains(stacks, "providersim.(*Server).serveFault") {
				t.Errorf("fault handler still running after Close:\n%s", stacks)
			}
		})
	}
}
