package providersim

import (
	"bytes"
	"fmt"
	"net/http"
	"time"
)

// Fault replaces an endpoint's answer with a failure a real provider or the
// network in front of it can produce.
type Fault string

// The fault modes. Each answers every request to the endpoint until it is
// switched off with FaultNone.
const (
	FaultNone    Fault = ""
	FaultDown    Fault = "down"    // connection closed without an answer
	Fault500     Fault = "500"     // 500 with a plain-text body
	Fault429     Fault = "429"     // 429 with Retry-After: 2
	FaultHang    Fault = "hang"    // no answer until the client gives up or Close
	FaultHTML    Fault = "html"    // 200 text/html, like a captive portal or login page
	FaultGarbage Fault = "garbage" // 200 application/json that is not JSON
	FaultHuge    Fault = "huge"    // 200 application/json, 10 MiB
	FaultTrickle Fault = "trickle" // 200, then one byte every 500ms forever
)

// HugeBodySize is the length of a FaultHuge body, far beyond what a client
// should be willing to buffer.
const HugeBodySize = 10 << 20

// TrickleEvery is the pause between the bytes of a FaultTrickle body.
const TrickleEvery = 500 * time.Millisecond

var faultEndpoints = map[string]bool{
	EndpointAll: true, EndpointDevice: true, EndpointToken: true,
	EndpointRevoke: true, EndpointUserinfo: true, EndpointDiscovery: true,
	EndpointJWKS: true, EndpointPage: true, EndpointUnknown: true,
}

// SetFault switches a fault on (or off with FaultNone) for one endpoint or
// for EndpointAll. An endpoint's own fault wins over the "all" fault. An
// unknown endpoint name panics: it is a typo in the test.
func (s *Server) SetFault(endpoint string, f Fault) {
	if !faultEndpoints[endpoint] {
		panic(fmt.Sprintf("providersim: SetFault: unknown endpoint %q", endpoint))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == FaultNone {
		delete(s.faults, endpoint)
		return
	}
	s.faults[endpoint] = f
}

// serveFault answers with f. Modes that hold the connection return as soon
// as the client leaves or the server closes, and then abort the response
// so the client sees a broken connection, never a truncated success.
func (s *Server) serveFault(w http.ResponseWriter, r *http.Request, f Fault) {
	ctx := r.Context()
	switch f {
	case FaultDown:
		hj, ok := w.(http.Hijacker)
		if !ok {
			panic(http.ErrAbortHandler)
		}
		conn, _, err := hj.Hijack()
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		_ = conn.Close()
	case Fault500:
		http.Error(w, "internal server error", http.StatusInternalServerError)
	case Fault429:
		w.Header().Set("Retry-After", "2")
		http.Error(w, "too many requests", http.StatusTooManyRequests)
	case FaultHang:
		select {
		case <-ctx.Done():
		case <-s.closing:
		}
		panic(http.ErrAbortHandler)
	case FaultHTML:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("<!doctype html><html><head><title>Sign in</title></head><body><form>Sign in to continue</form></body></html>\n"))
	case FaultGarbage:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"access_token":"x","token_type":` + "\x00}{\n"))
	case FaultHuge:
		s.writeHuge(w, r)
	case FaultTrickle:
		s.trickle(w, r)
	default:
		panic(fmt.Sprintf("providersim: unknown fault %q", f))
	}
}

// writeHuge sends a syntactically plausible JSON document (one enormous
// string) so that a client without a size limit really tries to decode it.
func (s *Server) writeHuge(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	head := []byte(`{"access_token":"`)
	tail := []byte(`","token_type":"Bearer"}`)
	chunk := bytes.Repeat([]byte("A"), 64<<10)
	if _, err := w.Write(head); err != nil {
		return
	}
	left := HugeBodySize - len(head) - len(tail)
	for left > 0 {
		select {
		case <-r.Context().Done():
			panic(http.ErrAbortHandler)
		case <-s.closing:
			panic(http.ErrAbortHandler)
		default:
		}
		n := min(left, len(chunk))
		if _, err := w.Write(chunk[:n]); err != nil {
			return
		}
		left -= n
	}
	_, _ = w.Write(tail)
}

func (s *Server) trickle(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	body := []byte(`{"access_token":"`)
	t := time.NewTicker(TrickleEvery)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-r.Context().Done():
			panic(http.ErrAbortHandler)
		case <-s.closing:
			panic(http.ErrAbortHandler)
		case <-t.C:
		}
		b := byte('A')
		if i < len(body) {
			b = body[i]
		}
		if _, err := w.Write([]byte{b}); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
