package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/testidp"
	"github.com/devicelogin-dev/devicelogin-operator/test/e2e/framework"
)

// The namespaces the benchmark works in.
const (
	nsFlows      = "bench-flows"
	nsPending    = "bench-pending"
	nsUnrelated  = "bench-unrelated"
	providerName = "bench"
)

// bench is one run: what it started, and what it measured so far.
type bench struct {
	cfg config
	res *results
	say func(format string, args ...any) // progress, to stderr

	dir        string
	cp         *framework.ControlPlane
	c          client.Client // cluster admin, no client-side rate limit
	idp        *testidp.Server
	mgr        *framework.Manager
	metricsURL string
	obs        *observer
	offsets    []time.Duration
	cpuMark    float64 // manager CPU seconds at the end of the last phase

	mu        sync.Mutex
	createdAt map[client.ObjectKey]time.Time
	flowKeys  []client.ObjectKey

	stops []func() error // run in reverse order by stop
}

// stop undoes setup: the watches, the manager, the provider, the control plane.
func (b *bench) stop() error {
	var errs []error
	for i := len(b.stops) - 1; i >= 0; i-- {
		errs = append(errs, b.stops[i]())
	}
	b.stops = nil
	if !b.cfg.Keep && b.dir != "" {
		errs = append(errs, os.RemoveAll(b.dir))
	}
	return errors.Join(errs...)
}

// setup starts the control plane, the provider, the manager and the benchmark's own watches and
// approver. What it started is stopped by stop, also when setup fails half-way.
func (b *bench) setup(ctx context.Context) error {
	var err error
	if b.dir, err = os.MkdirTemp("", "bench-scale-"); err != nil {
		return err
	}
	b.say("work directory (logs) %s", b.dir)
	b.say("starting kube-apiserver and etcd")
	cp, err := framework.StartControlPlane(filepath.Join(b.dir, "kube"))
	if err != nil {
		return err
	}
	b.cp = cp
	b.stops = append(b.stops, cp.Stop)
	cfg := rest.CopyConfig(cp.Config)
	cfg.QPS = -1 // the benchmark creates its objects at once; the API server's own limits apply
	if b.c, err = client.New(cfg, client.Options{Scheme: cp.Scheme}); err != nil {
		return err
	}
	for _, ns := range []string{nsFlows, nsPending, nsUnrelated} {
		if err := b.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return err
		}
	}

	b.idp = testidp.New(testidp.Options{Interval: b.cfg.Interval, TokenLifetime: b.cfg.TokenLifetime, FirstPollWait: true})
	b.stops = append(b.stops, func() error { b.idp.Close(); return nil })
	b.res.Interval = time.Duration(b.cfg.Interval.Seconds()) * time.Second

	binary, err := framework.ManagerBinary()
	if err != nil {
		return err
	}
	port, err := framework.FreePort()
	if err != nil {
		return err
	}
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", port)
	b.metricsURL = "http://" + metricsAddr + "/metrics"
	args := append([]string{
		"--cluster-resource-namespace=" + framework.OperatorNamespace,
		"--metrics-bind-address=" + metricsAddr,
		"--metrics-secure=false",
	}, b.cfg.ManagerArgs...)
	// The memory limit a deployment gives the manager (MEMORY_LIMIT), so that its soft memory limit is
	// the one users run with. The manager inherits this process's environment.
	env, limit, err := memoryLimitEnv(b.cfg.MemoryLimit)
	if err != nil {
		return err
	}
	if err := os.Unsetenv("MEMORY_LIMIT"); err != nil {
		return err
	}
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	b.res.note("the manager ran with the memory limit %s, as MEMORY_LIMIT", limit)
	b.say("starting the manager %s %v with %v", binary, args, env)
	b.mgr, err = framework.StartManager(binary, cp.ManagerKubeconfigPath, filepath.Join(b.dir, "manager.log"), args...)
	if b.mgr != nil {
		b.stops = append(b.stops, b.mgr.Stop)
	}
	if err != nil {
		return err
	}

	if err := b.c.Create(ctx, &authv1alpha1.ClusterOAuthProvider{
		ObjectMeta: metav1.ObjectMeta{Name: providerName},
		Spec: authv1alpha1.OAuthProviderSpec{
			DeviceAuthorizationURL: b.idp.DeviceAuthorizationURL(),
			TokenURL:               b.idp.TokenURL(),
			ClientID:               "test-client",
			AllowInsecureHTTP:      true,
		},
	}); err != nil {
		return err
	}
	if err := b.until(ctx, time.Minute, "the ClusterOAuthProvider to be Ready", func() (bool, error) {
		ready, _, err := framework.ProviderReady(ctx, b.c, providerName)
		return ready, err
	}); err != nil {
		return err
	}

	watchCtx, cancel := context.WithCancel(ctx)
	b.stops = append(b.stops, func() error { cancel(); return nil })
	b.obs = newObserver()
	if err := b.obs.start(watchCtx, cp.Config, cp.Scheme, nsFlows, nsPending); err != nil {
		return err
	}
	b.offsets = approvalOffsets(b.cfg.Seed, b.cfg.N, 500*time.Millisecond, 4500*time.Millisecond)
	go newApprover(b.idp, map[string][]time.Duration{scopeFlow: b.offsets, scopeNaive: b.offsets}).run(watchCtx)
	b.cpuMark = b.usage().CPU
	return nil
}

// until polls cond every 200 ms for at most timeout.
func (b *bench) until(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("waiting %s for %s: %w", timeout, what, ctx.Err()), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// sleep waits d, or less when ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// usage reads the manager's counters; zero when they cannot be read.
func (b *bench) usage() procUsage {
	u, err := readUsage(b.mgr.Process().Pid())
	if err != nil {
		b.res.note("reading the manager's /proc: %v", err)
	}
	return u
}

// cpuPhase records the manager's CPU seconds since the last phase ended.
func (b *bench) cpuPhase(phase string) {
	now := b.usage().CPU
	b.res.CPU = append(b.res.CPU, phaseCPU{Phase: phase, Seconds: now - b.cpuMark})
	b.cpuMark = now
}

// metrics scrapes the manager; a failed scrape is noted and returns nil counts.
func (b *bench) metrics(ctx context.Context) managerMetrics {
	m, err := scrape(ctx, b.metricsURL)
	if err != nil {
		b.res.note("%v", err)
	}
	return m
}

// createLogins creates n DeviceLogins in ns asking for scope, from cfg.Workers goroutines, and
// stamps each with the time its create request went out.
func (b *bench) createLogins(ctx context.Context, ns, scope string, n int) []client.ObjectKey {
	keys := make([]client.ObjectKey, n)
	for i := range keys {
		keys[i] = client.ObjectKey{Namespace: ns, Name: fmt.Sprintf("login-%05d", i)}
	}
	b.forEach(ctx, n, func(i int) error {
		dl := &authv1alpha1.DeviceLogin{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: keys[i].Name},
			Spec: authv1alpha1.DeviceLoginSpec{
				ProviderRef: authv1alpha1.ProviderReference{Kind: authv1alpha1.ClusterOAuthProviderKind, Name: providerName},
				Scopes:      []string{scope},
			},
		}
		b.mu.Lock()
		b.createdAt[keys[i]] = time.Now()
		b.mu.Unlock()
		return b.c.Create(ctx, dl)
	})
	return keys
}

// createUnrelated creates n Secrets of size bytes that have nothing to do with the operator.
func (b *bench) createUnrelated(ctx context.Context, n, size int) {
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	b.forEach(ctx, n, func(i int) error {
		return b.c.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: nsUnrelated, Name: fmt.Sprintf("unrelated-%05d", i),
				Labels: map[string]string{"app.kubernetes.io/name": "unrelated"}},
			Data: map[string][]byte{"tls.crt": payload},
		})
	})
}

// forEach runs f(0..n-1) on cfg.Workers goroutines; it notes the first error and how many failed.
func (b *bench) forEach(ctx context.Context, n int, f func(i int) error) {
	next := make(chan int)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed int
		first  error
	)
	for range b.cfg.Workers {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					failed++
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if failed > 0 {
		b.res.note("%d of %d creates failed, the first with: %v", failed, n, first)
	}
}
