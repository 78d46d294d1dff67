package framework

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// localHTTPClient refuses every host but 127.0.0.1 and does not follow redirects by itself, so
// that each step of a browser's journey is checked.
func localHTTPClient(jar http.CookieJar) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Jar:     jar,
		Timeout: 15 * time.Second,
		Transport: &http.Transport{
			Proxy: nil,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				host, _, err := net.SplitHostPort(addr)
				if err != nil || host != "127.0.0.1" {
					return nil, fmt.Errorf("refusing to connect to %s: tests talk to 127.0.0.1 only", addr)
				}
				return dialer.DialContext(ctx, network, addr)
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// browser is a cookie-keeping HTTP client that walks Dex's pages.
type browser struct {
	ctx    context.Context
	client *http.Client
}

// page is a response with its body read (and closed).
type page struct {
	status int
	header http.Header
	body   string
}

// do sends one request and returns the response with its body read.
func (b *browser) do(method string, u *url.URL, form url.Values) (*page, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(b.ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	return &page{status: resp.StatusCode, header: resp.Header, body: string(data)}, nil
}

// follow GETs redirects from p until a page answers 200; it returns that page's URL and body.
func (b *browser) follow(from *url.URL, p *page) (*url.URL, string, error) {
	cur := from
	for i := 0; i < 10; i++ {
		if p.status == http.StatusOK {
			return cur, p.body, nil
		}
		next, err := location(cur, p)
		if err != nil {
			return nil, "", err
		}
		cur = next
		if p, err = b.do(http.MethodGet, cur, nil); err != nil {
			return nil, "", err
		}
	}
	return nil, "", errors.New("more than 10 redirects")
}

// location resolves a redirect's (relative) Location against the request's URL.
func location(from *url.URL, p *page) (*url.URL, error) {
	if p.status < 300 || p.status > 399 {
		return nil, fmt.Errorf("%s answered HTTP %d where a redirect was expected", from.Path, p.status)
	}
	loc := p.header.Get("Location")
	if loc == "" {
		return nil, fmt.Errorf("%s answered HTTP %d without a Location", from.Path, p.status)
	}
	next, err := from.Parse(loc)
	if err != nil {
		return nil, fmt.Errorf("bad Location from %s: %w", from.Path, err)
	}
	if next.Hostname() != "127.0.0.1" {
		return nil, fmt.Errorf("%s redirects to %s, not to 127.0.0.1", from.Path, next.Host)
	}
	return next, nil
}

var formAction = regexp.MustCompile(`<form[^>]*\baction="([^"]*)"`)

// ApproveDex approves userCode at Dex as a person's browser would: it enters the code at
// verificationURI's verify_code endpoint, follows the redirects to Dex's password login form, logs
// in, grants access on the approval page and loads the device callback, which completes the
// device code. Only 127.0.0.1 is contacted.
func ApproveDex(ctx context.Context, verificationURI, userCode, login, password string) error {
	start, err := url.Parse(verificationURI)
	if err != nil {
		return fmt.Errorf("verification URI: %w", err)
	}
	if start.Hostname() != "127.0.0.1" {
		return fmt.Errorf("verification URI %s is not on 127.0.0.1", verificationURI)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return err
	}
	b := &browser{ctx: ctx, client: localHTTPClient(jar)}

	// 1. The code entered on the device page is posted to <verification URI>/auth/verify_code.
	verify := start.JoinPath("auth", "verify_code")
	verify.RawQuery = ""
	p, err := b.do(http.MethodPost, verify, url.Values{"user_code": {userCode}})
	if err != nil {
		return err
	}
	if p.status != http.StatusFound && p.status != http.StatusSeeOther {
		return fmt.Errorf("entering the user code: HTTP %d (%s)", p.status, pageText(p.body))
	}
	// 2. Dex redirects to the authorization endpoint and on to the password connector's form.
	loginURL, body, err := b.follow(verify, p)
	if err != nil {
		return fmt.Errorf("reaching the login form: %w", err)
	}
	m := formAction.FindStringSubmatch(body)
	if m == nil {
		return fmt.Errorf("no login form at %s (%s)", loginURL.Path, pageText(body))
	}
	action, err := loginURL.Parse(html.UnescapeString(m[1]))
	if err != nil {
		return fmt.Errorf("login form action: %w", err)
	}
	if action.String() == "" || action.Path == "" {
		action = loginURL
	}
	// 3. Log in: Dex answers 303 to its approval page.
	p, err = b.do(http.MethodPost, action, url.Values{"login": {login}, "password": {password}})
	if err != nil {
		return err
	}
	approval, err := location(action, p)
	if err != nil {
		return fmt.Errorf("logging in as %s: %w (%s)", login, err, pageText(p.body))
	}
	// 4. Grant access: POST req and approval=approve to the approval URL; Dex answers 303 to the
	// device callback.
	if approval.Query().Get("req") != "" && strings.HasSuffix(approval.Path, "/approval") {
		p, err = b.do(http.MethodPost, approval, url.Values{"req": {approval.Query().Get("req")}, "approval": {"approve"}})
		if err != nil {
			return err
		}
		if approval, err = location(approval, p); err != nil {
			return fmt.Errorf("approving: %w (%s)", err, pageText(p.body))
		}
	}
	// 5. Loading the callback is what completes the device code.
	if !strings.HasSuffix(approval.Path, "/device/callback") {
		return fmt.Errorf("expected the device callback after approval, got %s", approval.Path)
	}
	p, err = b.do(http.MethodGet, approval, nil)
	if err != nil {
		return err
	}
	if p.status != http.StatusOK {
		return fmt.Errorf("device callback: HTTP %d (%s)", p.status, pageText(p.body))
	}
	return nil
}

var tags = regexp.MustCompile(`(?s)<script.*?</script>|<style.*?</style>|<[^>]*>`)

// pageText is a short, tag-free excerpt of a page, for error messages. Dex's pages hold no tokens.
func pageText(body string) string {
	t := strings.Join(strings.Fields(html.UnescapeString(tags.ReplaceAllString(body, " "))), " ")
	if len(t) > 300 {
		t = t[:300] + "..."
	}
	return t
}
