package metrics

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// TestCollectorThroughCache runs the collector on a real informer cache against kube-apiserver and
// etcd (envtest): a DeviceLogin's status shows up in the scrape, and its deletion removes its series.
func TestCollectorThroughCache(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" && os.Getenv("CI") != "true" {
		t.Skip("KUBEBUILDER_ASSETS is not set (make test sets it; CI never skips)")
	}
	s := testScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel() // stop the informers before the API server, or Stop waits for their watches
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	})
	k8s, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.New(cfg, cache.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("cache did not sync")
	}
	reg := prometheus.NewPedanticRegistry()
	if err := Register(reg, c); err != nil {
		t.Fatal(err)
	}

	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}); err != nil {
		t.Fatal(err)
	}
	dl := testLogins()[0].(*authv1alpha1.DeviceLogin)
	status := dl.Status.DeepCopy()
	if err := k8s.Create(ctx, dl); err != nil {
		t.Fatal(err)
	}
	dl.Status = *status
	if err := k8s.Status().Update(ctx, dl); err != nil {
		t.Fatal(err)
	}

	series := `
devicelogin_awaiting_approval{name="pending",namespace="team-a",provider="idp",provider_kind="OAuthProvider"} 1
devicelogin_ready_reason{name="pending",namespace="team-a",reason="AwaitingApproval"} 1
devicelogin_ready_status{condition="False",name="pending",namespace="team-a"} 1
devicelogin_ready_status{condition="True",name="pending",namespace="team-a"} 0
devicelogin_ready_status{condition="Unknown",name="pending",namespace="team-a"} 0
devicelogin_user_code_expiration_timestamp_seconds{name="pending",namespace="team-a"} 1.79589e+09
`
	eventually(t, func() error {
		return testutil.GatherAndCompare(reg, strings.NewReader(helpFor(series)+series), gaugeNames...)
	})

	if err := k8s.Delete(ctx, dl); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		return testutil.GatherAndCompare(reg, strings.NewReader(""), gaugeNames...)
	})
}

// eventually retries check for up to 10 seconds, for the cache to catch up.
func eventually(t *testing.T, check func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
