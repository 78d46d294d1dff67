// Package metrics exports the operator's Prometheus metrics, named in cert-manager's style
// (devicelogin_...): gauges computed at scrape time from the manager's cache, so that a deleted
// DeviceLogin leaves no series behind, and counters of provider requests, token refreshes and
// rollout restarts that the controllers feed.
//
// No label ever holds a user code, a subject, a URL or a token: labels are namespaces, object
// names, kinds, condition statuses and reasons, and values from small fixed sets.
package metrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
)

// other replaces an endpoint or outcome outside the sets above, so that a caller's mistake can
// neither grow the number of series nor put an arbitrary string into a label.
const other = "other"

var (
	// The endpoint and outcome labels are the fixed sets the oauth client reports (Client.Observe).
	knownEndpoints = map[string]bool{oauth.EndpointDeviceAuthorization: true, oauth.EndpointToken: true,
		oauth.EndpointRefresh: true, oauth.EndpointRevocation: true}
	knownOutcomes = map[string]bool{oauth.OutcomeSuccess: true, oauth.OutcomeAuthorizationPending: true,
		oauth.OutcomeSlowDown: true, oauth.OutcomeOAuthError: true, oauth.OutcomeTransientError: true,
		oauth.OutcomeProtocolError: true}
)

var (
	providerRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "devicelogin_provider_requests_total",
		Help: "Requests to OAuth providers, by provider (Kind/name), endpoint (device_authorization, token, " +
			"refresh, revocation) and outcome (success, authorization_pending, slow_down, oauth_error, transient_error, " +
			"protocol_error).",
	}, []string{"provider", "endpoint", "outcome"})

	tokenRefreshes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "devicelogin_token_refreshes_total",
		Help: "Token refreshes, by provider (Kind/name) and result (success or failure).",
	}, []string{"provider", "result"})

	rolloutRestarts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "devicelogin_rollout_restarts_total",
		Help: "Workloads restarted because their token Secret changed, by namespace and kind " +
			"(Deployment, StatefulSet, DaemonSet).",
	}, []string{"namespace", "kind"})
)

// Register registers the DeviceLogin collector, which lists DeviceLogins through reader at every
// scrape (pass the manager's cache-backed client), and the counters. Call it once per registry,
// e.g. Register(ctrlmetrics.Registry, mgr.GetClient()) with
// sigs.k8s.io/controller-runtime/pkg/metrics.Registry.
func Register(reg prometheus.Registerer, reader client.Reader) error {
	var errs []error
	for _, c := range []prometheus.Collector{newLoginCollector(reader), providerRequests, tokenRefreshes, rolloutRestarts} {
		errs = append(errs, reg.Register(c))
	}
	return errors.Join(errs...)
}

// ProviderLabel is the value of the provider label: "ClusterOAuthProvider/dex",
// "OAuthProvider/idp". An empty kind means OAuthProvider, as in a DeviceLogin's providerRef.
func ProviderLabel(kind, name string) string {
	if kind == "" {
		kind = "OAuthProvider"
	}
	return kind + "/" + name
}

// ObserveProviderRequest counts one request to a provider. provider is ProviderLabel's form;
// endpoint and outcome are the Endpoint* and Outcome* constants (anything else counts as "other").
// Its signature matches oauth.Client's Observe hook.
func ObserveProviderRequest(provider, endpoint, outcome string) {
	if !knownEndpoints[endpoint] {
		endpoint = other
	}
	if !knownOutcomes[outcome] {
		outcome = other
	}
	providerRequests.WithLabelValues(provider, endpoint, outcome).Inc()
}

// RecordRefresh counts one token refresh of a DeviceLogin using provider (ProviderLabel's form)
// that succeeded (ok) or failed.
func RecordRefresh(provider string, ok bool) {
	result := "success"
	if !ok {
		result = "failure"
	}
	tokenRefreshes.WithLabelValues(provider, result).Inc()
}

// RecordRestart counts one restarted workload of kind (Deployment, StatefulSet, DaemonSet) in
// namespace.
func RecordRestart(namespace, kind string) {
	rolloutRestarts.WithLabelValues(namespace, kind).Inc()
}
