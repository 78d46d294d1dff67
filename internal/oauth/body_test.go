package oauth

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// closeRecorder is a response body that records whether it was closed.
type closeRecorder struct {
	io.Reader
	closed bool
}

func (b *closeRecorder) Close() error {
	b.closed = true
	return nil
}

// bodyTransport answers every request with body, without a network.
type bodyTransport struct{ body *closeRecorder }

func (t bodyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: t.body, Request: req}, nil
}

// TestDoRequestClosesTheBody checks that every response body is closed once read, within the size
// cap or over it, so that no connection leaks.
func TestDoRequestClosesTheBody(t *testing.T) {
	for name, body := range map[string]string{
		"within the cap": `{"ok":true}`,
		"over the cap":   strings.Repeat("x", maxBodySize+1),
	} {
		t.Run(name, func(t *testing.T) {
			rec := &closeRecorder{Reader: strings.NewReader(body)}
			hc := &http.Client{Transport: bodyTransport{body: rec}}
			req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://127.0.0.1/", http.NoBody)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = doRequest(context.Background(), hc, req)
			if !rec.closed {
				t.Error("the response body was not closed")
			}
		})
	}
}
