// Package framework holds what the end-to-end suite and `make demo` share: a real control plane
// (kube-apiserver and etcd through envtest), a real identity provider (Dex), the manager binary
// run as a process, and a headless "browser" that approves a device code at Dex.
//
// Everything listens on 127.0.0.1 only and every Start function returns something with a Stop
// method that kills what it started and frees its ports. Token, refresh token and device code
// values are never printed.
package framework

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// The module whose root RepoRoot looks for.
const modulePath = "github.com/devicelogin-dev/devicelogin-operator"

// OperatorNamespace is where the operator runs and ClusterOAuthProvider client secrets live.
const OperatorNamespace = "devicelogin-system"

// RepoRoot is the root of the operator's repository: the nearest directory above the working
// directory whose go.mod declares the operator's module.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(data), "module "+modulePath+"\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of %s above the working directory", modulePath)
		}
		dir = parent
	}
}

// binaryFromEnv returns the path in the environment variable, else root/def; it fails with what
// to run when the file is missing.
func binaryFromEnv(envVar, def, makeTarget string) (string, error) {
	path := os.Getenv(envVar)
	if path == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", err
		}
		path = filepath.Join(root, def)
	}
	// The path names a binary the tests run, chosen by whoever runs them.
	if _, err := os.Stat(path); err != nil { //nolint:gosec // G703: see above
		return "", fmt.Errorf("%s not found (%s, or set %s): run 'make %s'", filepath.Base(def), path, envVar, makeTarget)
	}
	return path, nil
}

// DexBinary is $DEX_BINARY, else bin/dex (built by `make dex`).
func DexBinary() (string, error) { return binaryFromEnv("DEX_BINARY", "bin/dex", "dex") }

// ManagerBinary is $MANAGER_BINARY, else bin/manager (built by `make build`).
func ManagerBinary() (string, error) { return binaryFromEnv("MANAGER_BINARY", "bin/manager", "build") }

// AssetsDir is $KUBEBUILDER_ASSETS, else bin/k8s/1.37.2-<os>-<arch> (built by `make envtest`).
func AssetsDir() (string, error) {
	return binaryFromEnv("KUBEBUILDER_ASSETS",
		filepath.Join("bin", "k8s", fmt.Sprintf("1.37.2-%s-%s", runtime.GOOS, runtime.GOARCH)), "envtest")
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on right now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Listening reports whether something accepts TCP connections at addr (host:port).
func Listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// waitHTTP polls url until it answers 200, the process exits, or the timeout passes.
func waitHTTP(ctx context.Context, url string, p *Process, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		last = err
		if exited, werr := p.Exited(); exited {
			return fmt.Errorf("%s exited (%v) before %s answered; see %s", p.Name, exitText(werr), url, p.LogPath)
		}
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("%s did not answer at %s within %s; see %s", p.Name, url, timeout, p.LogPath), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
