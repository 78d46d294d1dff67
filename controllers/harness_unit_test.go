package controllers

// The unit-test harness of the DeviceLoginReconciler: one DeviceLogin and its provider on the fake
// client (with the status subresource), a fake clock, oauthtest.FakeFlow and the fake event
// recorder, driven through Reconcile only. The tests of each step live beside the step's source
// (devicelogin_flow.go: devicelogin_flow_test.go, and so on). They need no API server:
//
//	go test ./controllers/ -run TestUnit
//
// (TestControllers is the envtest suite.) Each unit test is named TestUnit, then the step it tests
// (TestUnitFlow..., TestUnitPoll..., TestUnitRefresh...), then what it shows.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth/oauthtest"
)

const (
	uNS        = "team-a"
	uName      = "ci-bot"
	uStateName = "ci-bot-devicelogin-state"
	uUID       = types.UID("7c0e6a4e-0b1f-4c57-9d0e-2f4f3c1a9b11")
	uIDP       = "idp"
	uDeviceURL = "https://idp.example.com/device/code"
	uTokenURL  = "https://idp.example.com/token"
	uVerifyURI = "https://idp.example.com/activate"
	uSubject   = "alice@example.com"
	uLife      = time.Hour
)

// uStart has a fraction of a second, so that rounding up to the second shows.
var uStart = time.Date(2026, 11, 28, 18, 15, 0, 250_000_000, time.UTC)

var uScopes = []string{"openid", "email", "offline_access"}

// uHarness is one DeviceLogin, its provider and the fakes around a DeviceLoginReconciler.
type uHarness struct {
	t      testing.TB
	ctx    context.Context
	scheme *runtime.Scheme
	raw    client.WithWatch // the fake client itself: reads and writes that the tests make
	clock  *clocktesting.FakeClock
	flow   *oauthtest.FakeFlow
	rec    *events.FakeRecorder
	r      *DeviceLoginReconciler

	mu     sync.Mutex
	trace  []string // ordered API writes ("Update Secret/x") and provider calls ("Refresh REFRESH-TOKEN-1")
	writes int      // successful API writes
	// refuse, when set, may refuse a write: it gets the verb and the object.
	refuse func(verb string, obj client.Object) error
	events []string
	logs   strings.Builder
	codes  int // device codes handed out by the default RequestDeviceCodeFn
}

type uSetup struct {
	dl       *authv1alpha1.DeviceLogin
	provider *authv1alpha1.OAuthProvider
	objects  []client.Object
}

// uReadyProvider is an OAuthProvider whose controller resolved its endpoints for its generation.
func uReadyProvider() *authv1alpha1.OAuthProvider {
	return &authv1alpha1.OAuthProvider{
		ObjectMeta: metav1.ObjectMeta{Name: uIDP, Namespace: uNS, Generation: 1},
		Spec:       authv1alpha1.OAuthProviderSpec{IssuerURL: "https://idp.example.com", ClientID: "k8s-operator"},
		Status: authv1alpha1.OAuthProviderStatus{
			ObservedGeneration: 1,
			Conditions: []metav1.Condition{{
				Type: ConditionReady, Status: metav1.ConditionTrue, Reason: "Resolved", Message: "Endpoints resolved",
				ObservedGeneration: 1, LastTransitionTime: metav1.NewTime(uStart.Add(-time.Hour).Truncate(time.Second)),
			}},
			Issuer:                 "https://idp.example.com",
			DeviceAuthorizationURL: uDeviceURL,
			TokenURL:               uTokenURL,
		},
	}
}

func uDeviceLogin() *authv1alpha1.DeviceLogin {
	return &authv1alpha1.DeviceLogin{
		ObjectMeta: metav1.ObjectMeta{Name: uName, Namespace: uNS, UID: uUID, Generation: 1},
		Spec: authv1alpha1.DeviceLoginSpec{
			ProviderRef:      authv1alpha1.ProviderReference{Name: uIDP},
			Scopes:           uScopes,
			CodeExpiryPolicy: authv1alpha1.CodeExpiryRenew,
		},
	}
}

func newUHarness(t testing.TB, mutate ...func(*uSetup)) *uHarness {
	t.Helper()
	setup := &uSetup{dl: uDeviceLogin(), provider: uReadyProvider()}
	for _, m := range mutate {
		m(setup)
	}
	s := unitScheme()

	h := &uHarness{t: t, scheme: s, clock: clocktesting.NewFakeClock(uStart), flow: &oauthtest.FakeFlow{},
		rec: events.NewFakeRecorder(1000)}
	logger := funcr.New(func(prefix, args string) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.logs.WriteString(prefix + " " + args + "\n")
	}, funcr.Options{Verbosity: 10})
	h.ctx = log.IntoContext(context.Background(), logger)

	h.raw = fake.NewClientBuilder().WithScheme(s).
		WithStatusSubresource(&authv1alpha1.DeviceLogin{}, &authv1alpha1.OAuthProvider{}).
		WithObjects(append([]client.Object{setup.dl, setup.provider}, setup.objects...)...).
		Build()
	c := interceptor.NewClient(h.raw, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			return h.write("Create", obj, func() error { return c.Create(ctx, obj, opts...) })
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			return h.write("Update", obj, func() error { return c.Update(ctx, obj, opts...) })
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			return h.write("Patch", obj, func() error { return c.Patch(ctx, obj, patch, opts...) })
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			return h.write("Delete", obj, func() error { return c.Delete(ctx, obj, opts...) })
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			return h.write("Patch/"+sub, obj, func() error { return c.SubResource(sub).Patch(ctx, obj, patch, opts...) })
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			return h.write("Update/"+sub, obj, func() error { return c.SubResource(sub).Update(ctx, obj, opts...) })
		},
	})
	h.r = &DeviceLoginReconciler{Client: c, APIReader: c, Scheme: s, Flow: h.flow, Clock: h.clock, Recorder: h.rec}

	h.flow.RequestDeviceCodeFn = func(_ context.Context, _ oauth.ClientConfig, _ oauth.DeviceRequest) (*oauth.DeviceAuthorization, error) {
		h.mu.Lock()
		h.codes++
		n := h.codes
		h.mu.Unlock()
		return uCode(n, 5*time.Minute, 5*time.Second), nil
	}
	h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
		return nil, uOAuthErr("authorization_pending")
	}
	h.flow.SubjectFn = func(context.Context, oauth.ClientConfig, *oauth.Token) (string, error) { return uSubject, nil }
	return h
}

// unitScheme knows the built-in kinds and the operator's: the scheme of every unit harness.
func unitScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(authv1alpha1.AddToScheme(s))
	return s
}

// uCode is the n-th device authorization a provider hands out.
func uCode(n int, expiresIn, interval time.Duration) *oauth.DeviceAuthorization {
	user := fmt.Sprintf("WDJB-%04d", n)
	return &oauth.DeviceAuthorization{
		DeviceCode: fmt.Sprintf("DEVICE-CODE-%d", n), UserCode: user,
		VerificationURI: uVerifyURI, VerificationURIComplete: uVerifyURI + "?user_code=" + user,
		ExpiresIn: expiresIn, Interval: interval,
	}
}

// uToken is the n-th token a provider hands out.
func uToken(n int, life time.Duration) *oauth.Token {
	return &oauth.Token{
		AccessToken: fmt.Sprintf("ACCESS-TOKEN-%d", n), TokenType: "Bearer",
		RefreshToken: fmt.Sprintf("REFRESH-TOKEN-%d", n), IDToken: fmt.Sprintf("ID-TOKEN-%d", n),
		Scope: "openid email", ExpiresIn: life,
	}
}

func uOAuthErr(code string) *oauth.Error { return &oauth.Error{Code: code, StatusCode: 400} }

func uKind(obj client.Object) string {
	switch obj.(type) {
	case *corev1.Secret:
		return "Secret"
	case *authv1alpha1.DeviceLogin:
		return "DeviceLogin"
	default:
		return fmt.Sprintf("%T", obj)
	}
}

func (h *uHarness) write(verb string, obj client.Object, do func() error) error {
	entry := verb + " " + uKind(obj) + "/" + obj.GetName()
	h.mu.Lock()
	refuse := h.refuse
	h.mu.Unlock()
	if refuse != nil {
		if err := refuse(verb, obj); err != nil {
			h.note(entry + " (refused)")
			return err
		}
	}
	if err := do(); err != nil {
		h.note(entry + " (failed: " + err.Error() + ")")
		return err
	}
	h.mu.Lock()
	h.writes++
	h.trace = append(h.trace, entry)
	h.mu.Unlock()
	return nil
}

func (h *uHarness) note(s string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.trace = append(h.trace, s)
}

func (h *uHarness) setRefuse(f func(verb string, obj client.Object) error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refuse = f
}

// resetCounts forgets the writes, the trace, the events and the provider calls so far.
func (h *uHarness) resetCounts() {
	h.mu.Lock()
	h.writes, h.trace, h.events = 0, nil, nil
	h.mu.Unlock()
	h.flow.ResetCalls()
}

func (h *uHarness) writeCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.writes
}

func (h *uHarness) traceSnapshot() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.trace)
}

// reconcileKey reconciles the DeviceLogin key names, collecting the events it records.
func (h *uHarness) reconcileKey(key types.NamespacedName) (res ctrl.Result, err error) {
	res, err = h.r.Reconcile(h.ctx, ctrl.Request{NamespacedName: key})
	for {
		select {
		case e := <-h.rec.Events:
			h.mu.Lock()
			h.events = append(h.events, e)
			h.mu.Unlock()
			continue
		default:
		}
		return res, err
	}
}

func (h *uHarness) reconcile() (ctrl.Result, error) {
	res, err := h.reconcileKey(types.NamespacedName{Namespace: uNS, Name: uName})
	if res.Requeue { //nolint:staticcheck // the house style forbids it; make sure
		h.t.Errorf("Reconcile returned Requeue: true")
	}
	if res.RequeueAfter < 0 {
		h.t.Errorf("Reconcile returned a negative RequeueAfter %s", res.RequeueAfter)
	}
	return res, err
}

func (h *uHarness) mustReconcile() ctrl.Result {
	h.t.Helper()
	res, err := h.reconcile()
	if err != nil {
		h.t.Fatalf("Reconcile: %v", err)
	}
	return res
}

// runFor follows the requeues for d of fake time, the way the workqueue would, and returns how
// many reconciles ran. Every reconcile must ask to come back, and not sooner than minRequeue.
func (h *uHarness) runFor(d time.Duration) int {
	h.t.Helper()
	end := h.clock.Now().Add(d)
	n := 0
	for h.clock.Now().Before(end) {
		after := h.mustReconcile().RequeueAfter
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

// eventsWith returns the events so far whose reason is reason ("Normal UserCodeIssued ...").
func (h *uHarness) eventsWith(reason string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, e := range h.events {
		if f := strings.Fields(e); len(f) > 1 && f[1] == reason {
			out = append(out, e)
		}
	}
	return out
}

func (h *uHarness) allEvents() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.events)
}

func (h *uHarness) dl() *authv1alpha1.DeviceLogin {
	h.t.Helper()
	dl := &authv1alpha1.DeviceLogin{}
	if err := h.raw.Get(h.ctx, types.NamespacedName{Namespace: uNS, Name: uName}, dl); err != nil {
		h.t.Fatalf("getting the DeviceLogin: %v", err)
	}
	return dl
}

// secret returns the Secret, or nil when there is none.
func (h *uHarness) secret(name string) *corev1.Secret {
	h.t.Helper()
	s := &corev1.Secret{}
	err := h.raw.Get(h.ctx, types.NamespacedName{Namespace: uNS, Name: name}, s)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		h.t.Fatalf("getting Secret %s: %v", name, err)
	}
	return s
}

func (h *uHarness) mustSecret(name string) *corev1.Secret {
	h.t.Helper()
	s := h.secret(name)
	if s == nil {
		h.t.Fatalf("Secret %s does not exist", name)
	}
	return s
}

// updateDL changes the DeviceLogin as a user would (metadata and spec; the fake client keeps
// generation as given, so a spec change bumps it here).
func (h *uHarness) updateDL(mutate func(*authv1alpha1.DeviceLogin)) {
	h.t.Helper()
	dl := h.dl()
	mutate(dl)
	if err := h.raw.Update(h.ctx, dl); err != nil {
		h.t.Fatalf("updating the DeviceLogin: %v", err)
	}
}

// updateProvider changes the OAuthProvider: spec and metadata as a user would, then the status as
// its controller would.
func (h *uHarness) updateProvider(mutate func(*authv1alpha1.OAuthProvider)) {
	h.t.Helper()
	p := &authv1alpha1.OAuthProvider{}
	if err := h.raw.Get(h.ctx, types.NamespacedName{Namespace: uNS, Name: uIDP}, p); err != nil {
		h.t.Fatalf("getting the provider: %v", err)
	}
	mutate(p)
	status := *p.Status.DeepCopy()
	if err := h.raw.Update(h.ctx, p); err != nil {
		h.t.Fatalf("updating the provider: %v", err)
	}
	p.Status = status
	if err := h.raw.Status().Update(h.ctx, p); err != nil {
		h.t.Fatalf("updating the provider's status: %v", err)
	}
}

// stepTo moves the fake clock to t (never back).
func (h *uHarness) stepTo(t time.Time) {
	if d := t.Sub(h.clock.Now()); d > 0 {
		h.clock.Step(d)
	}
}

// rvs are the resourceVersions of the DeviceLogin, the state Secret and the token Secret.
func (h *uHarness) rvs() [3]string {
	var out [3]string
	out[0] = h.dl().ResourceVersion
	if s := h.secret(uStateName); s != nil {
		out[1] = s.ResourceVersion
	}
	if s := h.secret(uName); s != nil {
		out[2] = s.ResourceVersion
	}
	return out
}

// nextPollAt is when the controller will poll the pending code next (kept in memory, not status).
func (h *uHarness) nextPollAt() time.Time {
	h.t.Helper()
	v, ok := h.r.polls.Load(uNS + "/" + uName)
	if !ok {
		h.t.Fatalf("no poll is booked")
	}
	return v.(pollSlot).next
}

// authorize runs the flow to an approved code with the given token and returns when the token was
// issued (the clock at the successful poll).
func (h *uHarness) authorize(tok *oauth.Token) time.Time {
	h.t.Helper()
	h.mustReconcile()
	h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) { return tok, nil }
	h.stepTo(h.nextPollAt())
	issued := h.clock.Now()
	h.mustReconcile()
	h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
		return nil, errors.New("unexpected poll")
	}
	return issued
}

// uAuthorized is a harness with an approved code and a token valid for uLife.
func uAuthorized(t *testing.T, mutate ...func(*uSetup)) (*uHarness, time.Time) {
	t.Helper()
	h := newUHarness(t, mutate...)
	issued := h.authorize(uToken(1, uLife))
	uExpectReady(t, h.dl(), metav1.ConditionTrue, ReasonAuthorized)
	h.resetCounts()
	return h, issued
}

// refuseState refuses every write of the state Secret.
func refuseState(verb string, obj client.Object) error {
	if _, ok := obj.(*corev1.Secret); ok && obj.GetName() == uStateName && (verb == "Create" || verb == "Update" || verb == "Patch") {
		return apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, uStateName, errors.New("injected by the test"))
	}
	return nil
}

// assertNoSecretsLeaked checks that no token or device code is in status, events or logs.
func (h *uHarness) assertNoSecretsLeaked() {
	h.t.Helper()
	status, _ := json.Marshal(h.dl().Status)
	h.mu.Lock()
	logs := h.logs.String()
	evs := strings.Join(h.events, "\n")
	h.mu.Unlock()
	for _, where := range []struct{ name, text string }{{"status", string(status)}, {"events", evs}, {"logs", logs}} {
		for _, secret := range []string{"ACCESS-TOKEN-", "REFRESH-TOKEN-", "ID-TOKEN-", "DEVICE-CODE-"} {
			if strings.Contains(where.text, secret) {
				h.t.Errorf("%s contain a secret (%s...):\n%s", where.name, secret, where.text)
			}
		}
	}
}

func uReady(t *testing.T, dl *authv1alpha1.DeviceLogin) *metav1.Condition {
	t.Helper()
	c := meta.FindStatusCondition(dl.Status.Conditions, ConditionReady)
	if c == nil {
		t.Fatalf("no Ready condition in %+v", dl.Status.Conditions)
	}
	return c
}

func uExpectReady(t *testing.T, dl *authv1alpha1.DeviceLogin, status metav1.ConditionStatus, reason string) *metav1.Condition {
	t.Helper()
	c := uReady(t, dl)
	if c.Status != status || c.Reason != reason {
		t.Errorf("Ready = %s/%s (%q), want %s/%s", c.Status, c.Reason, c.Message, status, reason)
	}
	if c.ObservedGeneration != dl.Generation {
		t.Errorf("Ready.observedGeneration = %d, want %d", c.ObservedGeneration, dl.Generation)
	}
	return c
}

func uTimeEq(t *testing.T, what string, got *metav1.Time, want time.Time) {
	t.Helper()
	if got == nil {
		t.Errorf("%s = nil, want %s", what, want.UTC().Format(time.RFC3339))
		return
	}
	if !got.Time.Equal(want) {
		t.Errorf("%s = %s, want %s", what, got.UTC().Format(time.RFC3339Nano), want.UTC().Format(time.RFC3339Nano))
	}
}

// uRequeueNotLate checks that a reconcile comes back no later than due. An earlier wake is
// harmless (that reconcile finds nothing due and writes nothing) and is only logged.
func uRequeueNotLate(t *testing.T, res ctrl.Result, due time.Duration, what string) {
	t.Helper()
	switch {
	case res.RequeueAfter <= 0 || res.RequeueAfter > due:
		t.Errorf("RequeueAfter = %s, want at most %s (%s)", res.RequeueAfter, due, what)
	case res.RequeueAfter < due-time.Second:
		t.Logf("early wake: RequeueAfter = %s although the next thing due (%s) is in %s", res.RequeueAfter, what, due)
	}
}

func uCalls(t *testing.T, f *oauthtest.FakeFlow, want map[string]int) {
	t.Helper()
	for _, m := range []string{oauthtest.MethodRequestDeviceCode, oauthtest.MethodPollToken, oauthtest.MethodRefresh,
		oauthtest.MethodRevoke, oauthtest.MethodSubject} {
		if got := f.Calls(m); got != want[m] {
			t.Errorf("FakeFlow.%s called %d time(s), want %d", m, got, want[m])
		}
	}
}

// deleteSeen deletes obj as someone else would, and tells the reconciler what its watch would
// show: the deletion (writeExpectations then stop standing in for the object with a copy of the
// controller's own last write).
func (h *uHarness) deleteSeen(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	if err := h.raw.Delete(ctx, obj, opts...); err != nil {
		return err
	}
	switch obj.(type) {
	case *corev1.Secret:
		notOwnWrite{expect: &h.r.expect}.Delete(event.DeleteEvent{Object: obj})
	case *authv1alpha1.DeviceLogin:
		loginEchoes{expect: &h.r.expect}.Delete(event.DeleteEvent{Object: obj})
	}
	return nil
}
