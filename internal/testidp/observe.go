package testidp

import "time"

// Request is one request as the server saw it, recorded before any fault or
// validation so that retries against a broken provider can be counted.
type Request struct {
	Endpoint   string // EndpointDevice, EndpointToken, ...
	Method     string
	GrantType  string // token endpoint only
	Time       time.Time
	ClientAuth string // AuthNone, AuthBasic, AuthPost or AuthBoth
	Fault      Fault  // the fault that answered it, FaultNone if served
}

// Requests returns every request received, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Count returns how many requests hit an endpoint (EndpointDevice, ...).
func (s *Server) Count(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if r.Endpoint == endpoint {
			n++
		}
	}
	return n
}

// Polls returns how many token requests used the device grant, faulted or
// not: the number a polling loop's pace is judged by.
func (s *Server) Polls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if r.Endpoint == EndpointToken && r.GrantType == DeviceGrantType {
			n++
		}
	}
	return n
}

// ForceSlowDown answers the next n device-grant polls with slow_down, as a busy server may, even
// when the client keeps to the interval; each one raises that code's interval by 5s.
func (s *Server) ForceSlowDown(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slowDowns += n
}

// SlowDowns counts the slow_down answers sent so far, forced or earned by early polls. A client
// that never polls early earns none.
func (s *Server) SlowDowns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.slowDownsSent
}
