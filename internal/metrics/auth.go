package metrics

import (
	"context"
	"crypto/sha256"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authenticationv1 "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authorizationv1 "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// Bounds of the authorization cache and of one review.
const (
	authAllowTTL   = time.Minute
	authCacheSize  = 256
	reviewTimeout  = 10 * time.Second
	bearerPrefix   = "bearer "
	authFailedText = "Authentication failed"
)

// WithAuthenticationAndAuthorization is the metrics server's filter (metricsserver.Options
// FilterProvider): a request needs a bearer token that a TokenReview authenticates, and its user
// needs `get` on the non-resource URL it asks for (nonResourceURLs: ["/metrics"]), by a
// SubjectAccessReview. It answers as controller-runtime's filters.WithAuthenticationAndAuthorization
// does (401 without a valid token, 403 without the permission) and needs the same RBAC
// (config/rbac/metrics_auth_role.yaml), but through the typed clients the manager already has:
// that filter's delegating authenticator brings in k8s.io/apiserver (CEL, gRPC, OpenTelemetry),
// which made up a third of the manager's binary and about 14 MiB of its resident memory.
// An allowed token is remembered for a minute (at most 256 of them, by SHA-256), so a scrape every
// few seconds costs the API server two requests a minute; denials are not remembered.
func WithAuthenticationAndAuthorization(config *rest.Config, httpClient *http.Client) (metricsserver.Filter, error) {
	authn, err := authenticationv1.NewForConfigAndClient(config, httpClient)
	if err != nil {
		return nil, err
	}
	authz, err := authorizationv1.NewForConfigAndClient(config, httpClient)
	if err != nil {
		return nil, err
	}
	r := reviewers{
		token: func(ctx context.Context, tr *authnv1.TokenReview) (*authnv1.TokenReview, error) {
			return authn.TokenReviews().Create(ctx, tr, metav1.CreateOptions{})
		},
		access: func(ctx context.Context, sar *authzv1.SubjectAccessReview) (*authzv1.SubjectAccessReview, error) {
			return authz.SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
		},
	}
	return r.filter(time.Now), nil
}

// reviewers are the two API calls of the filter; tests replace them.
type reviewers struct {
	token  func(context.Context, *authnv1.TokenReview) (*authnv1.TokenReview, error)
	access func(context.Context, *authzv1.SubjectAccessReview) (*authzv1.SubjectAccessReview, error)
}

// filter builds the metricsserver.Filter; now is the clock of the cache.
func (r reviewers) filter(now func() time.Time) metricsserver.Filter {
	c := &allowCache{now: now, entries: map[[sha256.Size]byte]time.Time{}}
	return func(log logr.Logger, next http.Handler) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			token, ok := bearerToken(req)
			if !ok {
				http.Error(w, "Unauthorized", http.StatusUnauthorized)
				return
			}
			verb := strings.ToLower(req.Method)
			key := sha256.Sum256([]byte(verb + " " + req.URL.Path + " " + token))
			if c.allowed(key) {
				next.ServeHTTP(w, req)
				return
			}
			ctx, cancel := context.WithTimeout(req.Context(), reviewTimeout)
			defer cancel()
			tr, err := r.token(ctx, &authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: token}})
			if err != nil {
				log.Error(err, "Unable to review a metrics request's token")
				http.Error(w, authFailedText, http.StatusInternalServerError)
				return
			}
			if !tr.Status.Authenticated {
				log.V(4).Info("Metrics request with a token the API server does not accept")
				http.Error(w, "Unauthorized", http.StatusUnauthorized)
				return
			}
			u := tr.Status.User
			sar, err := r.access(ctx, &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
				User: u.Username, Groups: u.Groups, UID: u.UID, Extra: extra(u.Extra),
				NonResourceAttributes: &authzv1.NonResourceAttributes{Path: req.URL.Path, Verb: verb},
			}})
			if err != nil {
				log.Error(err, "Unable to authorize a metrics request", "user", u.Username)
				http.Error(w, "Authorization for user "+u.Username+" failed", http.StatusInternalServerError)
				return
			}
			if !sar.Status.Allowed {
				log.V(4).Info("Metrics request denied", "user", u.Username, "reason", sar.Status.Reason)
				http.Error(w, "Authorization denied for user "+u.Username, http.StatusForbidden)
				return
			}
			c.allow(key)
			next.ServeHTTP(w, req)
		}), nil
	}
}

// bearerToken is the token of an "Authorization: Bearer ..." header.
func bearerToken(req *http.Request) (string, bool) {
	h := req.Header.Get("Authorization")
	if len(h) <= len(bearerPrefix) || !strings.EqualFold(h[:len(bearerPrefix)], bearerPrefix) {
		return "", false
	}
	token := strings.TrimSpace(h[len(bearerPrefix):])
	return token, token != ""
}

func extra(in map[string]authnv1.ExtraValue) map[string]authzv1.ExtraValue {
	if in == nil {
		return nil
	}
	out := make(map[string]authzv1.ExtraValue, len(in))
	for k, v := range in {
		out[k] = authzv1.ExtraValue(v)
	}
	return out
}

// allowCache remembers allowed (verb, path, token) triples, by hash, for authAllowTTL.
type allowCache struct {
	now     func() time.Time
	mu      sync.Mutex
	entries map[[sha256.Size]byte]time.Time // expiry
}

func (c *allowCache) allowed(key [sha256.Size]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.entries[key]
	if ok && c.now().After(exp) {
		delete(c.entries, key)
		return false
	}
	return ok
}

func (c *allowCache) allow(key [sha256.Size]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.entries) >= authCacheSize {
		for k, exp := range c.entries {
			if now.After(exp) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= authCacheSize {
			clear(c.entries)
		}
	}
	c.entries[key] = now.Add(authAllowTTL)
}
