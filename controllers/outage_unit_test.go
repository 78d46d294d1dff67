package controllers

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth/oauthtest"
)

// outageHarness runs the DeviceLogin reconciler on a fake client and a fake clock, stepping the
// clock to each requested requeue, the way the workqueue would.
type outageHarness struct {
	t      testing.TB
	r      *DeviceLoginReconciler
	clock  *clocktesting.FakeClock
	flow   *oauthtest.FakeFlow
	client client.Client
}

func newOutageHarness(t testing.TB) *outageHarness {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := authv1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	provider := &authv1alpha1.OAuthProvider{
		ObjectMeta: metav1.ObjectMeta{Name: "idp", Namespace: "team", Generation: 1},
		Spec:       authv1alpha1.OAuthProviderSpec{TokenURL: "https://idp.test/token", DeviceAuthorizationURL: "https://idp.test/device", ClientID: "c"},
		Status: authv1alpha1.OAuthProviderStatus{
			ObservedGeneration: 1, TokenURL: "https://idp.test/token", DeviceAuthorizationURL: "https://idp.test/device",
			Conditions: []metav1.Condition{{Type: ConditionReady, Status: metav1.ConditionTrue, Reason: ReasonEndpointsResolved,
				ObservedGeneration: 1, LastTransitionTime: metav1.Now()}},
		},
	}
	dl := &authv1alpha1.DeviceLogin{
		ObjectMeta: metav1.ObjectMeta{Name: "bot", Namespace: "team", Generation: 1, UID: "uid-bot"},
		Spec:       authv1alpha1.DeviceLoginSpec{ProviderRef: authv1alpha1.ProviderReference{Name: "idp"}, Scopes: []string{"openid"}},
	}
	c := fake.NewClientBuilder().WithScheme(s).
		WithStatusSubresource(&authv1alpha1.DeviceLogin{}, &authv1alpha1.OAuthProvider{}).
		WithObjects(provider, dl).Build()
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	flow := &oauthtest.FakeFlow{}
	return &outageHarness{t: t, clock: clk, flow: flow, client: c, r: &DeviceLoginReconciler{
		Client: c, APIReader: c, Scheme: s, Flow: flow, Clock: clk, Recorder: events.NewFakeRecorder(1000),
	}}
}

// reconcile runs one reconcile and returns when it asks to be called again (0: not at all).
func (h *outageHarness) reconcile() time.Duration {
	h.t.Helper()
	res, err := h.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "team", Name: "bot"}})
	if err != nil {
		h.t.Fatalf("reconcile: %v", err)
	}
	return res.RequeueAfter
}

// runFor follows the requeues for d of fake time and returns how many reconciles ran.
func (h *outageHarness) runFor(d time.Duration) int {
	end := h.clock.Now().Add(d)
	n := 0
	for h.clock.Now().Before(end) {
		after := h.reconcile()
		n++
		if after <= 0 {
			h.t.Fatalf("reconcile %d asked for no requeue during an outage", n)
		}
		if after < minRequeue {
			h.t.Fatalf("reconcile %d requeued after %s: a hot loop", n, after)
		}
		h.clock.Step(after)
	}
	return n
}

var errOutage = &oauth.TransientError{Reason: "connection refused"}

// TestOutageRequestCount measures how many requests the controller sends to a provider that is
// down for ten minutes, once while a user code is pending and once while a refresh is due.
func TestOutageRequestCount(t *testing.T) {
	t.Run("code pending", func(t *testing.T) {
		h := newOutageHarness(t)
		h.flow.RequestDeviceCodeFn = func(context.Context, oauth.ClientConfig, oauth.DeviceRequest) (*oauth.DeviceAuthorization, error) {
			return &oauth.DeviceAuthorization{DeviceCode: "dc", UserCode: "ABCD-EFGH", VerificationURI: "https://idp.test/device",
				ExpiresIn: 30 * time.Minute, Interval: 5 * time.Second}, nil
		}
		h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) { return nil, errOutage }
		h.clock.Step(h.reconcile()) // the code is issued; the outage starts now
		reconciles := h.runFor(10 * time.Minute)
		polls := h.flow.Calls("PollToken")
		t.Logf("MEASURE 10-minute outage with a code pending: %d token requests, %d reconciles (interval 5s would be 120)", polls, reconciles)
		if polls > 12 || polls < 5 {
			t.Fatalf("%d token requests in a 10-minute outage; want exponential backoff to the 5-minute cap (about 7)", polls)
		}
		if got := h.flow.Calls("RequestDeviceCode"); got != 1 {
			t.Fatalf("%d device codes requested; the pending one is still valid", got)
		}
		h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
			return nil, &oauth.Error{Code: "authorization_pending"}
		}
		h.clock.Step(h.reconcile())
		h.reconcile()
		var dl authv1alpha1.DeviceLogin
		_ = h.client.Get(context.Background(), types.NamespacedName{Namespace: "team", Name: "bot"}, &dl)
		if dl.Status.ConsecutiveFailures != 0 {
			t.Fatalf("consecutiveFailures = %d after the provider came back; want 0", dl.Status.ConsecutiveFailures)
		}
	})

	t.Run("refresh due", func(t *testing.T) {
		h := newOutageHarness(t)
		h.flow.RequestDeviceCodeFn = func(context.Context, oauth.ClientConfig, oauth.DeviceRequest) (*oauth.DeviceAuthorization, error) {
			return &oauth.DeviceAuthorization{DeviceCode: "dc", UserCode: "ABCD-EFGH", VerificationURI: "https://idp.test/device",
				ExpiresIn: 30 * time.Minute, Interval: 5 * time.Second}, nil
		}
		h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
			return &oauth.Token{AccessToken: "at-1", TokenType: "Bearer", RefreshToken: "rt-1", ExpiresIn: time.Hour}, nil
		}
		h.flow.SubjectFn = func(context.Context, oauth.ClientConfig, *oauth.Token) (string, error) { return "", nil }
		h.clock.Step(h.reconcile())
		after := h.reconcile() // approved: the next requeue is the refresh, about 40 minutes on
		if after < 30*time.Minute {
			t.Fatalf("after approval the next reconcile is in %s; want the refresh, about 40 minutes on", after)
		}
		h.clock.Step(after)
		h.flow.RefreshFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) { return nil, errOutage }
		reconciles := h.runFor(10 * time.Minute)
		refreshes := h.flow.Calls("Refresh")
		t.Logf("MEASURE 10-minute outage with a refresh due: %d refresh requests, %d reconciles", refreshes, reconciles)
		if refreshes > 12 || refreshes < 5 {
			t.Fatalf("%d refresh requests in a 10-minute outage; want exponential backoff to the 5-minute cap (about 7)", refreshes)
		}
		var secret corev1.Secret
		if err := h.client.Get(context.Background(), types.NamespacedName{Namespace: "team", Name: "bot"}, &secret); err != nil {
			t.Fatalf("the token Secret: %v", err)
		}
		if string(secret.Data[KeyAccessToken]) != "at-1" {
			t.Fatal("the token Secret lost the current access token during the outage")
		}
		var dl authv1alpha1.DeviceLogin
		_ = h.client.Get(context.Background(), types.NamespacedName{Namespace: "team", Name: "bot"}, &dl)
		if c := readyOf(&dl); c == nil || c.Status != metav1.ConditionTrue {
			t.Fatalf("Ready = %v while the access token is valid; want True", c)
		}
	})
}

func readyOf(dl *authv1alpha1.DeviceLogin) *metav1.Condition {
	return meta.FindStatusCondition(dl.Status.Conditions, ConditionReady)
}

func TestBackoffIsCappedWithJitter(t *testing.T) {
	for n := int32(1); n <= 20; n++ {
		want := backoffBase << min(n-1, 10)
		want = min(want, backoffCap)
		for i := 0; i < 50; i++ {
			got := backoff(n)
			if got < want*8/10 || got > want*12/10 {
				t.Fatalf("backoff(%d) = %s; want within 20%% of %s", n, got, want)
			}
		}
	}
}

// TestCodeExpiresWhileProviderNotReady: a pending code that expires while its provider is not
// Ready is dropped, and a new one is asked for once the provider is back; nothing panics.
func TestCodeExpiresWhileProviderNotReady(t *testing.T) {
	h := newOutageHarness(t)
	h.flow.RequestDeviceCodeFn = func(context.Context, oauth.ClientConfig, oauth.DeviceRequest) (*oauth.DeviceAuthorization, error) {
		return &oauth.DeviceAuthorization{DeviceCode: "dc", UserCode: "ABCD-EFGH", VerificationURI: "https://idp.test/device",
			ExpiresIn: time.Minute, Interval: 5 * time.Second}, nil
	}
	h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
		return nil, &oauth.Error{Code: "authorization_pending"}
	}
	h.reconcile()
	ctx := context.Background()
	var p authv1alpha1.OAuthProvider
	if err := h.client.Get(ctx, types.NamespacedName{Namespace: "team", Name: "idp"}, &p); err != nil {
		t.Fatal(err)
	}
	p.Status.Conditions[0].Status = metav1.ConditionFalse
	p.Status.Conditions[0].Reason = ReasonDiscoveryFailed
	if err := h.client.Status().Update(ctx, &p); err != nil {
		t.Fatal(err)
	}
	h.clock.Step(2 * time.Minute) // the code expired while the provider was down
	h.reconcile()
	var dl authv1alpha1.DeviceLogin
	_ = h.client.Get(ctx, types.NamespacedName{Namespace: "team", Name: "bot"}, &dl)
	if dl.Status.UserCode != "" {
		t.Fatalf("the expired code %s is still published", dl.Status.UserCode)
	}
	if c := readyOf(&dl); c == nil || c.Reason != ReasonProviderNotReady {
		t.Fatalf("Ready = %+v; want ProviderNotReady", c)
	}
	p.Status.Conditions[0].Status = metav1.ConditionTrue
	p.Status.Conditions[0].Reason = ReasonEndpointsResolved
	if err := h.client.Status().Update(ctx, &p); err != nil {
		t.Fatal(err)
	}
	h.reconcile()
	_ = h.client.Get(ctx, types.NamespacedName{Namespace: "team", Name: "bot"}, &dl)
	if dl.Status.UserCode == "" || h.flow.Calls("RequestDeviceCode") != 2 {
		t.Fatalf("no new code once the provider is back (code %q, %d requests)", dl.Status.UserCode, h.flow.Calls("RequestDeviceCode"))
	}
}

// TestReauthorizeWaitsForTheProvider: the reauthorize annotation set while the provider is not
// Ready is acted on once it is, not marked handled and forgotten.
func TestReauthorizeWaitsForTheProvider(t *testing.T) {
	h := newOutageHarness(t)
	h.flow.RequestDeviceCodeFn = func(context.Context, oauth.ClientConfig, oauth.DeviceRequest) (*oauth.DeviceAuthorization, error) {
		return &oauth.DeviceAuthorization{DeviceCode: "dc", UserCode: "ABCD-EFGH", VerificationURI: "https://idp.test/device",
			ExpiresIn: 10 * time.Minute, Interval: 5 * time.Second}, nil
	}
	h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
		return &oauth.Token{AccessToken: "at-1", TokenType: "Bearer", RefreshToken: "rt-1", ExpiresIn: time.Hour}, nil
	}
	h.flow.SubjectFn = func(context.Context, oauth.ClientConfig, *oauth.Token) (string, error) { return "", nil }
	h.clock.Step(h.reconcile())
	h.reconcile() // authorized
	ctx := context.Background()
	setProviderReady := func(ready bool) {
		var p authv1alpha1.OAuthProvider
		if err := h.client.Get(ctx, types.NamespacedName{Namespace: "team", Name: "idp"}, &p); err != nil {
			t.Fatal(err)
		}
		p.Status.Conditions[0].Status = metav1.ConditionFalse
		if ready {
			p.Status.Conditions[0].Status = metav1.ConditionTrue
		}
		if err := h.client.Status().Update(ctx, &p); err != nil {
			t.Fatal(err)
		}
	}
	setProviderReady(false)
	var dl authv1alpha1.DeviceLogin
	_ = h.client.Get(ctx, types.NamespacedName{Namespace: "team", Name: "bot"}, &dl)
	dl.Annotations = map[string]string{authv1alpha1.ReauthorizeAnnotation: "1"}
	if err := h.client.Update(ctx, &dl); err != nil {
		t.Fatal(err)
	}
	h.reconcile()
	_ = h.client.Get(ctx, types.NamespacedName{Namespace: "team", Name: "bot"}, &dl)
	if dl.Status.LastHandledReauthorize != "" || h.flow.Calls("RequestDeviceCode") != 1 {
		t.Fatalf("reauthorize handled without a provider (lastHandled %q, %d codes)", dl.Status.LastHandledReauthorize, h.flow.Calls("RequestDeviceCode"))
	}
	setProviderReady(true)
	h.reconcile()
	_ = h.client.Get(ctx, types.NamespacedName{Namespace: "team", Name: "bot"}, &dl)
	if dl.Status.LastHandledReauthorize != "1" || h.flow.Calls("RequestDeviceCode") != 2 || dl.Status.UserCode == "" {
		t.Fatalf("reauthorize not acted on once the provider is back (lastHandled %q, %d codes, code %q)",
			dl.Status.LastHandledReauthorize, h.flow.Calls("RequestDeviceCode"), dl.Status.UserCode)
	}
}
