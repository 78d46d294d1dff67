package controllers

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
)

// DiscoveryStaleAfter is how long a provider keeps serving the endpoints of its last successful
// discovery while re-discovery fails. Every login depends on a shared provider, so one failed
// hourly re-discovery must not stop them: Ready stays True and the Discovered condition shows
// the failure. Once no discovery has succeeded for this long, the provider is not Ready. A
// provider that has never been discovered (for its current generation) is not Ready at once.
const DiscoveryStaleAfter = 24 * time.Hour

// The bounds of the retry delay after a failed discovery: it doubles from the first while the
// failure lasts, up to the second.
const (
	minDiscoveryRetry = 30 * time.Second
	maxDiscoveryRetry = 15 * time.Minute
)

// servedEndpoints is what the provider serves: endpoints, or why it cannot.
type servedEndpoints struct {
	endpoints oauth.Endpoints
	// stale says the endpoints are those of the last successful discovery, standing in for a
	// failed one; status keeps them unchanged.
	stale bool
	// reason and err say why the provider is not Ready; retry says err may heal by itself.
	reason string
	err    error
	retry  bool
}

// source names where the served endpoints come from, for the log.
func (s servedEndpoints) source() string {
	if s.stale {
		return "last successful discovery"
	}
	return "preset or spec"
}

// serve decides what the provider serves after resolve: fresh endpoints when they are usable,
// else, when only discovery failed, the last good discovered endpoints (checked again, as the
// manager's flags may have changed) while they are younger than DiscoveryStaleAfter.
func (r *ProviderReconciler) serve(obj authv1alpha1.ProviderObject, res resolution, now time.Time) servedEndpoints {
	if res.discoveryErr != nil {
		if e, ok := lastGood(obj, now); ok && r.checkEndpoints(obj, e) == nil {
			return servedEndpoints{endpoints: e, stale: true}
		}
	}
	if res.err == nil {
		return servedEndpoints{endpoints: res.endpoints}
	}
	err := res.err
	status := obj.ProviderStatus()
	if t := status.LastDiscoveryTime; res.fromDiscovery && t != nil && status.ObservedGeneration == obj.GetGeneration() &&
		now.Sub(t.Time) >= DiscoveryStaleAfter {
		err = fmt.Errorf("no successful discovery since %s (more than %s): %w", t.UTC().Format(time.RFC3339), DiscoveryStaleAfter, err)
	}
	return servedEndpoints{reason: res.reason, err: err, retry: res.fromDiscovery}
}

// lastGood returns the endpoints in obj's status when they may stand in for a failed discovery:
// Ready for the current generation, read from a discovery document less than
// DiscoveryStaleAfter ago.
func lastGood(obj authv1alpha1.ProviderObject, now time.Time) (oauth.Endpoints, bool) {
	status := obj.ProviderStatus()
	ready := meta.FindStatusCondition(status.Conditions, ConditionReady)
	t := status.LastDiscoveryTime
	if ready == nil || ready.Status != metav1.ConditionTrue || ready.ObservedGeneration != obj.GetGeneration() ||
		t == nil || now.Sub(t.Time) >= DiscoveryStaleAfter || status.DeviceAuthorizationURL == "" || status.TokenURL == "" {
		return oauth.Endpoints{}, false
	}
	return oauth.Endpoints{
		Issuer:                 status.Issuer,
		DeviceAuthorizationURL: status.DeviceAuthorizationURL,
		TokenURL:               status.TokenURL,
		RevocationURL:          status.RevocationURL,
		UserinfoURL:            status.UserinfoURL,
		JWKSURL:                status.JWKSURL,
	}, true
}

// discoveryRetryAfter is when to try discovery again: as long as it has been failing (from the
// Discovered condition in before, the status this reconcile started from), between
// minDiscoveryRetry and maxDiscoveryRetry, and no later than the moment stale endpoints expire.
func discoveryRetryAfter(before authv1alpha1.ProviderObject, now time.Time, stale bool) time.Duration {
	status := before.ProviderStatus()
	since := now
	if c := meta.FindStatusCondition(status.Conditions, ConditionDiscovered); c != nil && c.Status == metav1.ConditionFalse {
		since = c.LastTransitionTime.Time
	}
	d := min(max(now.Sub(since), minDiscoveryRetry), maxDiscoveryRetry)
	if stale && status.LastDiscoveryTime != nil {
		if left := status.LastDiscoveryTime.Add(DiscoveryStaleAfter).Sub(now); left < d {
			d = max(left, time.Second)
		}
	}
	return d
}
