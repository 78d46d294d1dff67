package framework

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
	"sigs.k8s.io/yaml"
)

// The demo user and client in every Dex this package starts.
const (
	DexLogin    = "admin@example.com"
	DexPassword = "password"
	DexClientID = "devicelogin-operator"
)

// DexOptions shape a Dex. Zero values take the defaults in brackets.
type DexOptions struct {
	// Binary is the dex executable [DexBinary()].
	Binary string
	// DeviceRequests is how long a user code lives [5m].
	DeviceRequests time.Duration
	// IDTokens is how long ID and access tokens live [30s, so that a refresh comes quickly].
	IDTokens time.Duration
	// RefreshReuseInterval is how long a rotated refresh token is still accepted [1s].
	RefreshReuseInterval time.Duration
}

// Dex is a running Dex with in-memory storage, the password database holding DexLogin, and a
// public client DexClientID.
type Dex struct {
	Issuer     string // http://127.0.0.1:PORT/dex
	Addr       string // 127.0.0.1:PORT
	ConfigPath string
	LogPath    string
	proc       *Process
}

// Process is the running Dex process.
func (d *Dex) Process() *Process { return d.proc }

// TokenURL is Dex's token endpoint.
func (d *Dex) TokenURL() string { return d.Issuer + "/token" }

// UserinfoURL is Dex's userinfo endpoint.
func (d *Dex) UserinfoURL() string { return d.Issuer + "/userinfo" }

// StartDex writes dir/config.yaml, starts Dex on 127.0.0.1:port (0: a free port) with its log in
// dir/dex.log and waits until it serves discovery.
func StartDex(dir string, port int, opts DexOptions) (*Dex, error) {
	if opts.Binary == "" {
		b, err := DexBinary()
		if err != nil {
			return nil, err
		}
		opts.Binary = b
	}
	if opts.DeviceRequests == 0 {
		opts.DeviceRequests = 5 * time.Minute
	}
	if opts.IDTokens == 0 {
		opts.IDTokens = 30 * time.Second
	}
	if opts.RefreshReuseInterval == 0 {
		opts.RefreshReuseInterval = time.Second
	}
	if port == 0 {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		port = p
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if Listening(addr) {
		return nil, fmt.Errorf("cannot start Dex on %s: something already listens there", addr)
	}
	d := &Dex{Issuer: "http://" + addr + "/dex", Addr: addr,
		ConfigPath: filepath.Join(dir, "config.yaml"), LogPath: filepath.Join(dir, "dex.log")}
	hash, err := bcrypt.GenerateFromPassword([]byte(DexPassword), bcrypt.DefaultCost)
	if err != nil {
		return nil, err
	}
	cfg := map[string]any{
		"issuer":  d.Issuer,
		"storage": map[string]any{"type": "memory"},
		"web":     map[string]any{"http": addr},
		"logger":  map[string]any{"level": "debug", "format": "text"},
		// The approval screen stays on: ApproveDex clicks through it as a person would.
		"oauth2": map[string]any{"skipApprovalScreen": false},
		"expiry": map[string]any{
			"deviceRequests": opts.DeviceRequests.String(),
			"idTokens":       opts.IDTokens.String(),
			"refreshTokens":  map[string]any{"reuseInterval": opts.RefreshReuseInterval.String()},
		},
		"enablePasswordDB": true,
		"staticPasswords": []map[string]any{{
			"email":    DexLogin,
			"hash":     string(hash),
			"username": "admin",
			"userID":   "08a8684b-db88-4b73-90a9-3cd1661f5466",
		}},
		"staticClients": []map[string]any{{
			"id":           DexClientID,
			"name":         "devicelogin-operator",
			"public":       true,
			"redirectURIs": []string{"/device/callback"},
		}},
	}
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(d.ConfigPath, data, 0o600); err != nil {
		return nil, err
	}
	d.proc, err = startProcess("dex", d.LogPath, nil, opts.Binary, "serve", d.ConfigPath)
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(context.Background(), d.Issuer+"/.well-known/openid-configuration", d.proc, 30*time.Second); err != nil {
		return nil, errors.Join(err, d.Stop())
	}
	return d, nil
}

// Stop stops Dex and waits until its port is free.
func (d *Dex) Stop() error {
	if d == nil {
		return nil
	}
	if err := d.proc.Stop(10 * time.Second); err != nil {
		return err
	}
	return waitPortFree(d.Addr)
}

func waitPortFree(addr string) error {
	for i := 0; i < 50; i++ {
		if !Listening(addr) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s still accepts connections", addr)
}

// TokenError is an OAuth error answer of Dex's token endpoint. It carries no token.
type TokenError struct {
	StatusCode  int
	Code        string // the "error" field, e.g. invalid_request
	Description string
}

func (e *TokenError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.StatusCode, e.Code, e.Description)
}

// Refresh sends grant_type=refresh_token to Dex's token endpoint as the public client. It returns
// nil when Dex accepts the refresh token and a *TokenError when it refuses it. The tokens Dex
// answers with are discarded, never returned or printed.
func (d *Dex) Refresh(ctx context.Context, refreshToken string) error {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}, "client_id": {DexClientID}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.TokenURL(), strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := localHTTPClient(nil).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	var body struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return &TokenError{StatusCode: resp.StatusCode, Code: body.Error, Description: body.ErrorDescription}
}

// Userinfo calls Dex's userinfo endpoint with the access token and returns the HTTP status and,
// on 200, the claims.
func (d *Dex) Userinfo(ctx context.Context, accessToken string) (int, map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.UserinfoURL(), http.NoBody)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := localHTTPClient(nil).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil, nil
	}
	claims := map[string]any{}
	if err := json.NewDecoder(resp.Body).Decode(&claims); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("decoding userinfo: %w", err)
	}
	return resp.StatusCode, claims, nil
}
