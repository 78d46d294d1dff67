package controllers

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// Foreign labelled Secrets in BenchmarkCacheForeignSecrets (issue 9 item 3).
const (
	foreignSecrets     = 5000
	foreignSecretBytes = 100 << 10
	foreignWriters     = 16
)

// BenchmarkCacheForeignSecrets measures the heap of a manager's Secret cache when anyone who can
// create Secrets has put the operator's label on 5,000 Secrets of 100 KiB that no DeviceLogin
// owns: with SecretCacheOptions (the data is dropped) and, for comparison, with the label selector
// alone. It needs kube-apiserver and etcd (KUBEBUILDER_ASSETS) and takes minutes; run it once:
//
//	KUBEBUILDER_ASSETS=$PWD/bin/k8s/1.37.2-linux-amd64 go test ./controllers/ -run '^$' \
//	    -bench BenchmarkCacheForeignSecrets -benchtime=1x
func BenchmarkCacheForeignSecrets(b *testing.B) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		if os.Getenv("CI") != "" {
			b.Fatal("KUBEBUILDER_ASSETS is not set; CI must run this benchmark against kube-apiserver and etcd")
		}
		b.Skip("KUBEBUILDER_ASSETS is not set (make test builds kube-apiserver and etcd into bin/k8s)")
	}
	log.SetLogger(logr.Discard())
	env := &envtest.Environment{}
	cfg, err := env.Start()
	if err != nil {
		b.Fatalf("starting kube-apiserver and etcd: %v", err)
	}
	b.Cleanup(func() { _ = env.Stop() })
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = -1, 0 // no client-side rate limit: the API server is ours
	ctx := context.Background()
	start := time.Now()
	if err := createForeignSecrets(ctx, cfg); err != nil {
		b.Fatal(err)
	}
	b.Logf("created %d labelled Secrets of %d KiB in %s", foreignSecrets, foreignSecretBytes>>10, time.Since(start).Round(time.Second))

	untrimmed := SecretCacheOptions()
	untrimmed.Transform = nil
	for _, c := range []struct {
		name string
		opts cache.ByObject
	}{{"SecretCacheOptions", SecretCacheOptions()}, {"label-only", untrimmed}} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				heap, delta, err := cachedHeap(ctx, cfg, c.opts)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(heap, "heap-MiB")
				b.ReportMetric(delta, "cache-MiB")
			}
		})
	}
}

// createForeignSecrets creates the foreign Secrets, foreignWriters at a time.
func createForeignSecrets(ctx context.Context, cfg *rest.Config) error {
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return err
	}
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "foreign"}}); err != nil {
		return err
	}
	payload := make([]byte, foreignSecretBytes)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	sem := make(chan struct{}, foreignWriters)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i := range foreignSecrets {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			s := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("foreign-%05d", i), Namespace: "foreign",
					Labels: map[string]string{authv1alpha1.DeviceLoginLabel: "not-a-login"}},
				Data: map[string][]byte{"payload": payload},
			}
			if err := c.Create(ctx, s); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// cachedHeap starts a cache of Secrets with opts, waits until it holds every foreign Secret, and
// returns the heap in use then (MiB, after GC) and its growth over the heap before the cache.
func cachedHeap(ctx context.Context, cfg *rest.Config, opts cache.ByObject) (heap, delta float64, err error) {
	before := heapInUse()
	c, err := cache.New(cfg, cache.Options{ByObject: map[client.Object]cache.ByObject{&corev1.Secret{}: opts}})
	if err != nil {
		return 0, 0, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	defer func() {
		cancel()
		if serr := <-done; serr != nil && err == nil {
			err = serr
		}
	}()
	inf, err := c.GetInformer(ctx, &corev1.Secret{})
	if err != nil {
		return 0, 0, err
	}
	go func() { done <- c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return 0, 0, fmt.Errorf("the cache did not sync")
	}
	shared, ok := inf.(toolscache.SharedIndexInformer)
	if !ok {
		return 0, 0, fmt.Errorf("the informer is a %T", inf)
	}
	var n int
	for _, key := range shared.GetStore().ListKeys() {
		if strings.HasPrefix(key, "foreign/") {
			n++
		}
	}
	if n != foreignSecrets {
		return 0, 0, fmt.Errorf("the cache holds %d foreign Secrets, want %d", n, foreignSecrets)
	}
	heap = heapInUse()
	runtime.KeepAlive(c)
	return heap, heap - before, nil
}

// heapInUse is the heap in use after garbage collection, in MiB.
func heapInUse() float64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapInuse) / (1 << 20)
}
