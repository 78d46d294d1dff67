// Command manager runs the devicelogin-operator: the DeviceLogin, OAuthProvider and
// ClusterOAuthProvider controllers.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/controllers"
	"github.com/devicelogin-dev/devicelogin-operator/internal/logsafe"
	"github.com/devicelogin-dev/devicelogin-operator/internal/metrics"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
	"github.com/devicelogin-dev/devicelogin-operator/internal/watchns"
)

var scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(authv1alpha1.AddToScheme(scheme))
}

func main() {
	var (
		metricsAddr, probeAddr, pprofAddr, clusterResourceNamespace string
		enableLeaderElection, secureMetrics, enableHTTP2            bool
		allowMetadataIPs, allowPrivateNamespaced                    bool
		providerTimeout                                             time.Duration
		memoryLimitRatio                                            float64
		maxConcurrentReconciles, maxConcurrentPolls                 int
		watchNamespaces                                             watchns.List
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", "0", "The address the metrics endpoint binds to, "+
		"e.g. :8443 for HTTPS or :8080 for HTTP; 0 disables it.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "The address the health probe endpoint binds to.")
	flag.StringVar(&pprofAddr, "pprof-bind-address", "", "The address the pprof endpoint (/debug/pprof/) binds to, "+
		"e.g. 127.0.0.1:6060; empty disables it. It has no authentication: bind it to loopback only.")
	flag.BoolVar(&enableLeaderElection, "leader-elect", false, "Enable leader election, so that only one "+
		"manager talks to providers when several run.")
	flag.BoolVar(&secureMetrics, "metrics-secure", true, "Serve metrics over HTTPS with authentication and authorization.")
	flag.BoolVar(&enableHTTP2, "enable-http2", false, "Enable HTTP/2 for the metrics server.")
	flag.StringVar(&clusterResourceNamespace, "cluster-resource-namespace", "", "The namespace that "+
		"ClusterOAuthProvider clientSecretRefs are read from. Default: the namespace the operator runs in "+
		"(POD_NAMESPACE), else devicelogin-system.")
	flag.BoolVar(&allowMetadataIPs, "allow-metadata-endpoints", false, "Allow provider endpoints that resolve "+
		"to link-local cloud metadata addresses (169.254.0.0/16, fd00:ec2::254). Leave off.")
	flag.BoolVar(&allowPrivateNamespaced, "allow-private-namespaced-providers", false, "Let namespaced "+
		"OAuthProviders, which tenants write, use http and reach loopback, private, link-local, CGNAT and ULA "+
		"addresses. Off: only ClusterOAuthProviders, which admins write, may.")
	flag.DurationVar(&providerTimeout, "provider-timeout", 15*time.Second, "Timeout of each request to a provider.")
	flag.IntVar(&maxConcurrentReconciles, "max-concurrent-reconciles", 16, "DeviceLogins reconciled at once; due polls that store an approval's tokens are bounded by the same number.")
	flag.IntVar(&maxConcurrentPolls, "max-concurrent-polls", controllers.DefaultMaxConcurrentPolls, "Due polls of "+
		"pending user codes run at once, beside the work queue, so that a poll never waits behind other logins' writes.")
	flag.Float64Var(&memoryLimitRatio, "memory-limit-ratio", 0.9, "Fraction of the container's memory limit "+
		"(the MEMORY_LIMIT environment variable, bytes, which the manifests set from limits.memory) given to the Go "+
		"runtime as its soft memory limit, unless GOMEMLIMIT is set; 0 leaves the runtime's default.")
	flag.Var(&watchNamespaces, "watch-namespaces", "Comma-separated namespaces whose DeviceLogins, "+
		"OAuthProviders and Secrets the manager watches; empty: every namespace. ClusterOAuthProviders "+
		"are watched cluster-wide either way.")
	opts := zap.Options{Development: false}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()

	// Capped: no --zap-log-level may let client-go dump request bodies (Secrets) into the log.
	ctrl.SetLogger(logsafe.Cap(zap.New(zap.UseFlagOptions(&opts)), logsafe.MaxVerbosity))
	setupLog := ctrl.Log.WithName("setup")

	softLimit, err := softMemoryLimit(os.Getenv("GOMEMLIMIT"), os.Getenv(memoryLimitEnv), memoryLimitRatio)
	if err != nil {
		setupLog.Error(err, "Invalid memory limit")
		os.Exit(1)
	}
	if softLimit > 0 {
		debug.SetMemoryLimit(softLimit)
	}
	gogc, gogcSet := os.LookupEnv("GOGC")
	if percent, ok := gcPercent(gogcSet); ok {
		debug.SetGCPercent(percent)
		gogc = strconv.Itoa(percent)
	}

	if clusterResourceNamespace == "" {
		clusterResourceNamespace = os.Getenv("POD_NAMESPACE")
	}
	if clusterResourceNamespace == "" {
		clusterResourceNamespace = "devicelogin-system"
	}

	var tlsOpts []func(*tls.Config)
	if !enableHTTP2 {
		// HTTP/2 is off by default: its Rapid Reset and Stream Cancellation weaknesses
		// (CVE-2023-44487, CVE-2023-39325) are not worth it for a metrics endpoint.
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOptions := metricsserver.Options{BindAddress: metricsAddr, SecureServing: secureMetrics, TLSOpts: tlsOpts}
	if secureMetrics {
		// TokenReview and SubjectAccessReview, as controller-runtime's filters package does, without
		// its dependency on k8s.io/apiserver (docs/performance.md, memory).
		metricsOptions.FilterProvider = metrics.WithAuthenticationAndAuthorization
	}

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsOptions,
		HealthProbeBindAddress:  probeAddr,
		PprofBindAddress:        pprofAddr,
		LeaderElection:          enableLeaderElection,
		LeaderElectionID:        "devicelogin-operator.auth.devicelogin.dev",
		LeaderElectionNamespace: leaderElectionNamespace(os.Getenv("POD_NAMESPACE"), clusterResourceNamespace),
		// Only the Secrets the operator owns are cached (and watched), and only those a DeviceLogin
		// controls keep their data in the cache. Client secrets are read through the API reader.
		// With --watch-namespaces, namespaced kinds are cached only in the listed namespaces.
		// Managed fields and kubectl's last-applied copy are trimmed from every cached object.
		Cache: controllers.CacheOptions(watchNamespaces.DefaultNamespaces()),
	})
	if err != nil {
		setupLog.Error(err, "Unable to create the manager")
		os.Exit(1)
	}

	flow := &oauth.Client{HTTP: oauth.NewHTTPClient(oauth.HTTPOptions{
		Timeout:          providerTimeout,
		AllowMetadataIPs: allowMetadataIPs,
	}), Observe: metrics.ObserveProviderRequest}
	// Namespaced OAuthProviders are written by tenants: their requests may not reach the
	// cluster's own network unless the admin allows it.
	namespacedFlow := &oauth.Client{HTTP: oauth.NewHTTPClient(oauth.HTTPOptions{
		Timeout:          providerTimeout,
		AllowMetadataIPs: allowMetadataIPs,
		DenyPrivate:      !allowPrivateNamespaced,
	}), Observe: metrics.ObserveProviderRequest}
	if err := controllers.SetupWithManager(mgr, controllers.Options{
		ClusterResourceNamespace:        clusterResourceNamespace,
		Flow:                            flow,
		HTTPClient:                      flow.HTTP,
		NamespacedFlow:                  namespacedFlow,
		NamespacedHTTPClient:            namespacedFlow.HTTP,
		AllowPrivateNamespacedProviders: allowPrivateNamespaced,
		Clock:                           clock.RealClock{},
		MaxConcurrentReconciles:         maxConcurrentReconciles,
		MaxConcurrentPolls:              maxConcurrentPolls,
	}); err != nil {
		setupLog.Error(err, "Unable to set up the controllers")
		os.Exit(1)
	}

	if err := controllers.SetupRolloutRestartWithManager(mgr, clock.RealClock{}); err != nil {
		setupLog.Error(err, "Unable to set up the rollout-restart controller")
		os.Exit(1)
	}
	// DeviceLogin gauges computed at scrape time from the cache, and the provider, refresh and
	// restart counters, on the manager's metrics endpoint.
	if err := metrics.Register(ctrlmetrics.Registry, mgr.GetClient()); err != nil {
		setupLog.Error(err, "Unable to register the metrics")
		os.Exit(1)
	}

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "Unable to set up the health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		setupLog.Error(err, "Unable to set up the ready check")
		os.Exit(1)
	}

	setupLog.Info("Starting manager", "clusterResourceNamespace", clusterResourceNamespace,
		"leaderElection", enableLeaderElection, "watchNamespaces", watchNamespaces.String(),
		"goMemoryLimit", debug.SetMemoryLimit(-1), "gogc", gogc)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		setupLog.Error(err, "Manager exited")
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
