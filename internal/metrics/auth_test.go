package metrics

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-logr/logr"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
)

// fakeReviews answers TokenReviews for the token "good" (user prometheus, who may get /metrics
// only) and counts the reviews.
type fakeReviews struct {
	tokens, accesses int
	fail             error
	lastSAR          *authzv1.SubjectAccessReview
}

func (f *fakeReviews) reviewers() reviewers {
	return reviewers{
		token: func(_ context.Context, tr *authnv1.TokenReview) (*authnv1.TokenReview, error) {
			f.tokens++
			if f.fail != nil {
				return nil, f.fail
			}
			out := tr.DeepCopy()
			if tr.Spec.Token == "good" {
				out.Status = authnv1.TokenReviewStatus{Authenticated: true, User: authnv1.UserInfo{
					Username: "system:serviceaccount:monitoring:prometheus", Groups: []string{"system:serviceaccounts"},
					Extra: map[string]authnv1.ExtraValue{"k": {"v"}}}}
			}
			return out, nil
		},
		access: func(_ context.Context, sar *authzv1.SubjectAccessReview) (*authzv1.SubjectAccessReview, error) {
			f.accesses++
			f.lastSAR = sar
			out := sar.DeepCopy()
			a := sar.Spec.NonResourceAttributes
			out.Status.Allowed = a != nil && a.Path == "/metrics" && a.Verb == "get"
			return out, nil
		},
	}
}

func TestMetricsAuthFilter(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	f := &fakeReviews{}
	h, err := f.reviewers().filter(func() time.Time { return now })(logr.Discard(),
		http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("metrics")) }))
	if err != nil {
		t.Fatal(err)
	}
	get := func(path, auth string) int {
		req := httptest.NewRequest(http.MethodGet, path, http.NoBody)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}

	for _, tt := range []struct {
		name, path, auth string
		want             int
	}{
		{"no token", "/metrics", "", http.StatusUnauthorized},
		{"not a bearer token", "/metrics", "Basic Z29vZDp4", http.StatusUnauthorized},
		{"empty bearer token", "/metrics", "Bearer  ", http.StatusUnauthorized},
		{"a token the API server rejects", "/metrics", "Bearer bad", http.StatusUnauthorized},
		{"a path the user may not get", "/debug", "Bearer good", http.StatusForbidden},
		{"allowed", "/metrics", "Bearer good", http.StatusOK},
		{"scheme in lower case", "/metrics", "bearer good", http.StatusOK},
	} {
		if got := get(tt.path, tt.auth); got != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, got, tt.want)
		}
	}
	if s := f.lastSAR.Spec; s.User != "system:serviceaccount:monitoring:prometheus" || len(s.Groups) != 1 || s.Extra["k"][0] != "v" {
		t.Errorf("the SubjectAccessReview does not carry the reviewed user: %+v", s)
	}

	// An allowed token is remembered for a minute: scrapes within it cost no review.
	tokens, accesses := f.tokens, f.accesses
	if got := get("/metrics", "Bearer good"); got != http.StatusOK || f.tokens != tokens || f.accesses != accesses {
		t.Errorf("a second scrape: status %d, %d more token and %d more access reviews; want 200 and none",
			got, f.tokens-tokens, f.accesses-accesses)
	}
	now = now.Add(authAllowTTL + time.Second)
	get("/metrics", "Bearer good")
	if f.tokens != tokens+1 || f.accesses != accesses+1 {
		t.Errorf("after a minute the token was not reviewed again")
	}

	// A failing API server is a 500, and not an open door.
	f.fail = errors.New("connection refused")
	now = now.Add(authAllowTTL + time.Second)
	if got := get("/metrics", "Bearer good"); got != http.StatusInternalServerError {
		t.Errorf("TokenReview failing: status %d, want 500", got)
	}
}

// The cache holds at most authCacheSize tokens, whatever the number of tokens seen.
func TestMetricsAuthCacheBounded(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := &allowCache{now: func() time.Time { return now }, entries: map[[32]byte]time.Time{}}
	for i := range 3 * authCacheSize {
		c.allow([32]byte{byte(i), byte(i >> 8)})
		if len(c.entries) > authCacheSize {
			t.Fatalf("%d entries after %d tokens", len(c.entries), i+1)
		}
	}
}
