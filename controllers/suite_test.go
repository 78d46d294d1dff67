package controllers

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/logsafe"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
)

// The suite runs the real manager against a real kube-apiserver and etcd (envtest), with
// providers played by internal/testidp on 127.0.0.1.

var (
	cfg     *rest.Config
	k8s     client.Client
	testEnv *envtest.Environment
	scheme  = runtime.NewScheme()
	mgrLogs = &syncBuffer{}
	// mainManager runs the controllers for every spec, except while a spec runs its own.
	mainManager *runningManager
)

// clusterNS holds ClusterOAuthProviders' client secrets in the suite.
const clusterNS = "devicelogin-system"

// The logger is set when the test binary starts, not in BeforeSuite: controller-runtime replaces
// a logger that is still unset 30 s after its first use with one that drops everything, and the
// unit tests that run before the suite can take that long on a busy machine. Every log line at the
// highest verbosity a flag can ask for goes to the buffer that the leak scan searches, through the
// same cap main.go puts on the manager's logger.
func init() {
	logf.SetLogger(logsafe.Cap(zap.New(zap.WriteTo(&teeWriter{GinkgoWriter, mgrLogs}), zap.UseDevMode(true),
		zap.Level(zapcore.Level(-10))), logsafe.MaxVerbosity))
}

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controllers Suite")
}

var _ = BeforeSuite(func() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(authv1alpha1.AddToScheme(scheme))
	utilruntime.Must(apiextensionsv1.AddToScheme(scheme))

	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	var err error
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred(), "starting kube-apiserver and etcd; run 'make test', which builds them into bin/k8s")
	k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	Expect(k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: clusterNS}})).To(Succeed())
	startManager()
})

var _ = AfterSuite(func() {
	if mainManager != nil {
		By("searching every log line, event and status for secret values")
		scanForLeaks()
	}
	stopManager()
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

// runningManager is a manager started by the suite.
type runningManager struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startManager starts the suite's main manager.
func startManager() {
	mainManager = startManagerWith(nil, nil)
}

// stopManager stops the suite's main manager and waits until it has stopped.
func stopManager() {
	if mainManager != nil {
		mainManager.stop()
		mainManager = nil
	}
}

// startManagerWith starts a manager as main.go builds it, with the same cache settings; tune
// changes its options and flow replaces the provider client.
func startManagerWith(tune func(*ctrl.Options), flow oauth.DeviceFlow) *runningManager {
	opts := ctrl.Options{
		Scheme:  scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		Cache:   CacheOptions(nil),
		// The suite starts managers more than once in one process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	}
	if tune != nil {
		tune(&opts)
	}
	mgr, err := ctrl.NewManager(cfg, opts)
	Expect(err).NotTo(HaveOccurred())
	httpClient := oauth.NewHTTPClient(oauth.HTTPOptions{Timeout: 2 * time.Second})
	if flow == nil {
		flow = &oauth.Client{HTTP: httpClient}
	}
	Expect(SetupWithManager(mgr, Options{
		ClusterResourceNamespace: clusterNS, Flow: flow, HTTPClient: httpClient, MaxConcurrentReconciles: 4,
		DiscoveryInterval: time.Hour,
		// The suite's providers are namespaced OAuthProviders on 127.0.0.1, as an admin allows with
		// --allow-private-namespaced-providers.
		AllowPrivateNamespacedProviders: true,
	})).To(Succeed())
	ctx, cancel := context.WithCancel(context.Background())
	m := &runningManager{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer GinkgoRecover()
		defer close(m.done)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	return m
}

func (m *runningManager) stop() {
	m.cancel()
	Eventually(m.done, 30*time.Second).Should(BeClosed())
}

// syncBuffer is a goroutine-safe buffer for the manager's logs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type teeWriter struct {
	a, b interface{ Write([]byte) (int, error) }
}

func (t *teeWriter) Write(p []byte) (int, error) {
	t.a.Write(p) //nolint:errcheck // GinkgoWriter is best effort
	return t.b.Write(p)
}
