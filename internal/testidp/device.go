package testidp

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// userCodeAlphabet is RFC 8628 6.1's example: consonants only, so codes
// cannot spell words, and no vowels or look-alikes to mistype.
const userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

type deviceState int

const (
	statePending deviceState = iota
	stateApproved
	stateDenied
)

type deviceGrant struct {
	deviceCode string
	userCode   string
	scope      string
	issuedAt   time.Time
	expiresAt  time.Time
	interval   time.Duration // grows by 5s with every slow_down
	lastPoll   time.Time     // zero until the first poll
	polls      int
	state      deviceState
	subject    string
	consumed   bool // tokens were handed out; the code is spent
}

// handleDeviceAuthorization is RFC 8628 3.1/3.2.
func (s *Server) handleDeviceAuthorization(w http.ResponseWriter, r *http.Request) {
	form, ok := parsePostForm(w, r)
	if !ok {
		return
	}
	if e := s.authenticateClient(r, form); e != nil && !s.bareClientIDAllowed(r, form) {
		writeError(w, e)
		return
	}

	s.mu.Lock()
	now := s.clock.Now()
	g := &deviceGrant{
		deviceCode: randomToken(),
		userCode:   s.newUserCodeLocked(),
		scope:      form.Get("scope"),
		issuedAt:   now,
		expiresAt:  now.Add(s.opts.CodeLifetime),
		interval:   s.interval,
	}
	s.devices[g.deviceCode] = g
	s.userCodes[g.userCode] = g.deviceCode
	s.lastUser = g.userCode
	s.issuedDC = append(s.issuedDC, g.deviceCode)
	s.mu.Unlock()

	resp := map[string]any{
		"device_code":               g.deviceCode,
		"user_code":                 g.userCode,
		"verification_uri":          s.VerificationURL(),
		"verification_uri_complete": s.VerificationURL() + "?user_code=" + url.QueryEscape(g.userCode),
		"expires_in":                int64(s.opts.CodeLifetime.Round(time.Second) / time.Second),
	}
	if !s.opts.OmitInterval {
		resp["interval"] = s.intervalSeconds()
	}
	writeJSON(w, http.StatusOK, resp)
}

// bareClientIDAllowed is the DeviceAuthClientIDOnly exemption: the right
// client_id in the body and no credentials at all.
func (s *Server) bareClientIDAllowed(r *http.Request, form url.Values) bool {
	return s.opts.DeviceAuthClientIDOnly && form.Get("client_id") == s.opts.ClientID &&
		form.Get("client_secret") == "" && r.Header.Get("Authorization") == ""
}

// newUserCodeLocked draws an unused XXXX-XXXX code.
func (s *Server) newUserCodeLocked() string {
	alphabetSize := big.NewInt(int64(len(userCodeAlphabet)))
	for {
		var b strings.Builder
		for i := 0; i < 8; i++ {
			if i == 4 {
				b.WriteByte('-')
			}
			n, err := rand.Int(rand.Reader, alphabetSize)
			if err != nil {
				panic(fmt.Sprintf("testidp: reading random bytes: %v", err))
			}
			b.WriteByte(userCodeAlphabet[n.Int64()])
		}
		if _, taken := s.userCodes[b.String()]; !taken {
			return b.String()
		}
	}
}

// normalizeUserCode accepts what a person might type: lower case, missing
// or extra dashes and spaces (RFC 8628 6.1).
func normalizeUserCode(in string) string {
	var b strings.Builder
	for _, c := range strings.ToUpper(in) {
		if c == '-' || c == ' ' {
			continue
		}
		b.WriteRune(c)
	}
	c := b.String()
	if len(c) == 8 {
		c = c[:4] + "-" + c[4:]
	}
	return c
}

// decideLocked finds a grant still waiting for the user's decision.
func (s *Server) decideLocked(userCode string) (*deviceGrant, error) {
	dc, ok := s.userCodes[normalizeUserCode(userCode)]
	if !ok {
		return nil, fmt.Errorf("testidp: unknown user code %q", userCode)
	}
	g := s.devices[dc]
	if !s.clock.Now().Before(g.expiresAt) {
		return nil, fmt.Errorf("testidp: user code %q expired", userCode)
	}
	if g.state != statePending {
		return nil, fmt.Errorf("testidp: user code %q already decided", userCode)
	}
	return g, nil
}

// Approve plays the person who enters the user code and consents; the next
// timely poll receives tokens for subject.
func (s *Server) Approve(userCode, subject string) error {
	if subject == "" {
		return errors.New("testidp: approving needs a subject")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.decideLocked(userCode)
	if err != nil {
		return err
	}
	g.state = stateApproved
	g.subject = subject
	return nil
}

// Deny plays the person who refuses consent; polls then get access_denied.
func (s *Server) Deny(userCode string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.decideLocked(userCode)
	if err != nil {
		return err
	}
	g.state = stateDenied
	return nil
}

// PendingUserCodes lists codes a person could still act on, so a test can
// approve whatever the operator started without scraping its status.
func (s *Server) PendingUserCodes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	var codes []string
	for _, dc := range s.issuedDC { // issue order
		g := s.devices[dc]
		if g.state == statePending && now.Before(g.expiresAt) {
			codes = append(codes, g.userCode)
		}
	}
	return codes
}

// LastUserCode is the most recently issued user code, whatever its state,
// or "" if none was issued.
func (s *Server) LastUserCode() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastUser
}

// Interval reports the polling interval currently enforced for a device
// code, so tests can see the effect of slow_down; 0 if unknown.
func (s *Server) Interval(deviceCode string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g, ok := s.devices[deviceCode]; ok {
		return g.interval
	}
	return 0
}

// PollCount reports how many token requests named this device code.
func (s *Server) PollCount(deviceCode string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g, ok := s.devices[deviceCode]; ok {
		return g.polls
	}
	return 0
}
