package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
)

func TestCounters(t *testing.T) {
	providerRequests.Reset()
	tokenRefreshes.Reset()
	rolloutRestarts.Reset()
	reg := prometheus.NewPedanticRegistry()
	if err := Register(reg, fake.NewClientBuilder().WithScheme(testScheme()).Build()); err != nil {
		t.Fatal(err)
	}

	dex := ProviderLabel("ClusterOAuthProvider", "dex")
	idp := ProviderLabel("", "idp")
	ObserveProviderRequest(dex, oauth.EndpointDeviceAuthorization, oauth.OutcomeSuccess)
	ObserveProviderRequest(dex, oauth.EndpointToken, oauth.OutcomeAuthorizationPending)
	ObserveProviderRequest(dex, oauth.EndpointToken, oauth.OutcomeAuthorizationPending)
	ObserveProviderRequest(dex, oauth.EndpointToken, oauth.OutcomeSlowDown)
	ObserveProviderRequest(idp, oauth.EndpointRefresh, oauth.OutcomeTransientError)
	ObserveProviderRequest(idp, oauth.EndpointRevocation, oauth.OutcomeOAuthError)
	ObserveProviderRequest(idp, "userinfo", "teapot") // outside the sets: counted as other
	RecordRefresh(dex, true)
	RecordRefresh(dex, true)
	RecordRefresh(idp, false)
	RecordRestart("team-a", "Deployment")
	RecordRestart("team-a", "Deployment")
	RecordRestart("team-b", "StatefulSet")

	want := `
# HELP devicelogin_provider_requests_total Requests to OAuth providers, by provider (Kind/name), endpoint (device_authorization, token, refresh, revocation) and outcome (success, authorization_pending, slow_down, oauth_error, transient_error, protocol_error).
# TYPE devicelogin_provider_requests_total counter
devicelogin_provider_requests_total{endpoint="device_authorization",outcome="success",provider="ClusterOAuthProvider/dex"} 1
devicelogin_provider_requests_total{endpoint="other",outcome="other",provider="OAuthProvider/idp"} 1
devicelogin_provider_requests_total{endpoint="refresh",outcome="transient_error",provider="OAuthProvider/idp"} 1
devicelogin_provider_requests_total{endpoint="revocation",outcome="oauth_error",provider="OAuthProvider/idp"} 1
devicelogin_provider_requests_total{endpoint="token",outcome="authorization_pending",provider="ClusterOAuthProvider/dex"} 2
devicelogin_provider_requests_total{endpoint="token",outcome="slow_down",provider="ClusterOAuthProvider/dex"} 1
# HELP devicelogin_rollout_restarts_total Workloads restarted because their token Secret changed, by namespace and kind (Deployment, StatefulSet, DaemonSet).
# TYPE devicelogin_rollout_restarts_total counter
devicelogin_rollout_restarts_total{kind="Deployment",namespace="team-a"} 2
devicelogin_rollout_restarts_total{kind="StatefulSet",namespace="team-b"} 1
# HELP devicelogin_token_refreshes_total Token refreshes, by provider (Kind/name) and result (success or failure).
# TYPE devicelogin_token_refreshes_total counter
devicelogin_token_refreshes_total{provider="ClusterOAuthProvider/dex",result="success"} 2
devicelogin_token_refreshes_total{provider="OAuthProvider/idp",result="failure"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "devicelogin_provider_requests_total",
		"devicelogin_token_refreshes_total", "devicelogin_rollout_restarts_total"); err != nil {
		t.Fatal(err)
	}
}

func TestRegisterTwiceFails(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := fake.NewClientBuilder().WithScheme(testScheme()).Build()
	if err := Register(reg, c); err != nil {
		t.Fatal(err)
	}
	if err := Register(reg, c); err == nil {
		t.Fatal("a second Register into the same registry succeeded; its counters would be counted twice")
	}
}

// TestOAuthLabelsAccepted keeps the sets in step with what oauth.Client passes to its Observe hook:
// none of its endpoints or outcomes may be counted as "other".
func TestOAuthLabelsAccepted(t *testing.T) {
	for _, e := range []string{oauth.EndpointDeviceAuthorization, oauth.EndpointToken, oauth.EndpointRefresh,
		oauth.EndpointRevocation} {
		if !knownEndpoints[e] {
			t.Errorf("endpoint %q would be counted as other", e)
		}
	}
	for _, o := range []string{oauth.OutcomeSuccess, oauth.OutcomeAuthorizationPending, oauth.OutcomeSlowDown,
		oauth.OutcomeOAuthError, oauth.OutcomeTransientError, oauth.OutcomeProtocolError} {
		if !knownOutcomes[o] {
			t.Errorf("outcome %q would be counted as other", o)
		}
	}
	c := &oauth.Client{Observe: ObserveProviderRequest} // fits the hook's type
	if c.Observe == nil {
		t.Fatal("unreachable")
	}
}
