package controllers

import (
	"context"
	"sync"
	"time"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// clientSecretTTL is how long a client secret read from the API server is reused. Client Secrets
// are not in the cache (the cache holds only the operator's own Secrets), and reading one for every
// poll would make waiting codes cost the API server a request each; a rotated client secret takes
// effect within this time.
const clientSecretTTL = 30 * time.Second

// clientSecretCache remembers client secret values per provider for clientSecretTTL.
type clientSecretCache struct {
	mu sync.Mutex
	m  map[string]cachedClientSecret
}

type cachedClientSecret struct {
	value string
	at    time.Time
}

// get returns the provider's client secret, from memory while it is fresh, else through read.
// Failures are not remembered.
func (c *clientSecretCache) get(obj authv1alpha1.ProviderObject, now time.Time, read func() (string, error)) (string, error) {
	ref := obj.ProviderSpec().ClientSecretRef
	if ref == nil {
		return "", nil
	}
	key := string(obj.GetUID()) + "/" + ref.Name + "/" + ref.Key
	c.mu.Lock()
	v, ok := c.m[key]
	c.mu.Unlock()
	if ok && now.Sub(v.at) < clientSecretTTL {
		return v.value, nil
	}
	value, err := read()
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cachedClientSecret{}
	}
	for k, e := range c.m { // drop what went stale, so that deleted providers do not linger
		if now.Sub(e.at) >= clientSecretTTL {
			delete(c.m, k)
		}
	}
	c.m[key] = cachedClientSecret{value: value, at: now}
	return value, nil
}

// readClientSecretCached is readClientSecret through r.secrets.
func (r *DeviceLoginReconciler) readClientSecretCached(ctx context.Context, obj authv1alpha1.ProviderObject) (string, error) {
	return r.secrets.get(obj, r.Clock.Now(), func() (string, error) {
		return readClientSecret(ctx, r.APIReader, obj, r.ClusterResourceNamespace)
	})
}
