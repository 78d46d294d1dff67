package controllers

// Unit tests of the DeviceLoginReconciler: the fake client (with the status subresource), a fake
// clock, oauthtest.FakeFlow and the fake event recorder. They need no API server: run them with
//
//	go test ./controllers/ -run 'Test[^C]'
//
// (TestControllers is the envtest suite). Every test here is named TestUnit* so that pattern keeps it.

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
	t      *testing.T
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

func newUHarness(t *testing.T, mutate ...func(*uSetup)) *uHarness {
	t.Helper()
	setup := &uSetup{dl: uDeviceLogin(), provider: uReadyProvider()}
	for _, m := range mutate {
		m(setup)
	}
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(authv1alpha1.AddToScheme(s))

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

func (h *uHarness) reconcile() (ctrl.Result, error) {
	res, err := h.r.Reconcile(h.ctx, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: uNS, Name: uName}})
	for {
		select {
		case e := <-h.rec.Events:
			h.mu.Lock()
			h.events = append(h.events, e)
			h.mu.Unlock()
			continue
		default:
		}
		break
	}
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

// roundUp is how the controller books a poll: at t rounded up to the second.
func roundUp(t time.Time) time.Time { return t.Add(time.Second - 1).Truncate(time.Second) }

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

// ---------------------------------------------------------------------------------------------

func TestUnitFakeFlowDefaults(t *testing.T) {
	f := &oauthtest.FakeFlow{}
	ctx := context.Background()
	if _, err := f.RequestDeviceCode(ctx, oauth.ClientConfig{}, oauth.DeviceRequest{}); err == nil {
		t.Error("RequestDeviceCode without a function succeeded")
	}
	if _, err := f.PollToken(ctx, oauth.ClientConfig{}, "x"); err == nil {
		t.Error("PollToken without a function succeeded")
	}
	if _, err := f.Refresh(ctx, oauth.ClientConfig{}, "x"); err == nil {
		t.Error("Refresh without a function succeeded")
	}
	if err := f.Revoke(ctx, oauth.ClientConfig{}, "x", ""); err != nil {
		t.Errorf("Revoke without a function: %v", err)
	}
	if s, err := f.Subject(ctx, oauth.ClientConfig{}, &oauth.Token{}); s != "" || err != nil {
		t.Errorf("Subject without a function = %q, %v", s, err)
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() { defer wg.Done(); _ = f.Revoke(ctx, oauth.ClientConfig{}, "x", "") }()
	}
	wg.Wait()
	if got := f.Calls(oauthtest.MethodRevoke); got != 51 {
		t.Errorf("Calls(Revoke) = %d, want 51", got)
	}
	if got := f.TotalCalls(); got != 55 {
		t.Errorf("TotalCalls = %d, want 55", got)
	}
}

func TestUnitFirstReconcileRequestsCode(t *testing.T) {
	h := newUHarness(t)
	var gotCfg oauth.ClientConfig
	var gotReq oauth.DeviceRequest
	h.flow.RequestDeviceCodeFn = func(_ context.Context, cfg oauth.ClientConfig, req oauth.DeviceRequest) (*oauth.DeviceAuthorization, error) {
		gotCfg, gotReq = cfg, req
		return &oauth.DeviceAuthorization{
			DeviceCode: "DEVICE-CODE-1", UserCode: "WDJB-MJHT", VerificationURI: uVerifyURI,
			VerificationURIComplete: uVerifyURI + "?user_code=WDJB-MJHT", ExpiresIn: 5 * time.Minute, Interval: 5 * time.Second,
		}, nil
	}
	res := h.mustReconcile()

	uCalls(t, h.flow, map[string]int{oauthtest.MethodRequestDeviceCode: 1})
	if gotCfg.Endpoints.DeviceAuthorizationURL != uDeviceURL || gotCfg.Endpoints.TokenURL != uTokenURL ||
		gotCfg.ClientID != "k8s-operator" || gotCfg.AuthStyle != oauth.AuthNone {
		t.Errorf("client config = %+v", gotCfg)
	}
	if !slices.Equal(gotReq.Scopes, uScopes) {
		t.Errorf("requested scopes %v, want %v", gotReq.Scopes, uScopes)
	}

	dl := h.dl()
	st := dl.Status
	if st.UserCode != "WDJB-MJHT" || st.VerificationURI != uVerifyURI ||
		st.VerificationURIComplete != uVerifyURI+"?user_code=WDJB-MJHT" || st.ApprovalURL != st.VerificationURIComplete {
		t.Errorf("code in status = %q %q %q %q", st.UserCode, st.VerificationURI, st.VerificationURIComplete, st.ApprovalURL)
	}
	expires := uStart.Add(5 * time.Minute).Truncate(time.Second) // 18:20:00
	uTimeEq(t, "userCodeExpiresAt", st.UserCodeExpiresAt, expires)
	if st.PollInterval != 5 {
		t.Errorf("pollInterval = %d, want 5", st.PollInterval)
	}
	nextPoll := roundUp(uStart.Add(5 * time.Second)) // 18:15:05.25 rounded up: 18:15:06
	uTimeEq(t, "nextPollTime", st.NextPollTime, nextPoll)
	if !nextPoll.Equal(time.Date(2026, 11, 28, 18, 15, 6, 0, time.UTC)) {
		t.Fatalf("test arithmetic: %s", nextPoll)
	}
	if st.ObservedGeneration != 1 {
		t.Errorf("observedGeneration = %d, want 1", st.ObservedGeneration)
	}
	c := uExpectReady(t, dl, metav1.ConditionFalse, ReasonAwaitingApproval)
	wantMsg := "Visit " + uVerifyURI + " and enter code WDJB-MJHT (expires 2026-11-28T18:20:00Z)"
	if c.Message != wantMsg {
		t.Errorf("Ready message = %q, want %q", c.Message, wantMsg)
	}

	issued := h.eventsWith(EventUserCodeIssued)
	if len(issued) != 1 {
		t.Fatalf("UserCodeIssued events = %q, want one", h.allEvents())
	}
	for _, part := range []string{"Normal UserCodeIssued", uVerifyURI, "WDJB-MJHT", "2026-11-28T18:20:00Z", "OAuthProvider idp", "openid email offline_access"} {
		if !strings.Contains(issued[0], part) {
			t.Errorf("UserCodeIssued event %q does not contain %q", issued[0], part)
		}
	}
	if n := len(h.allEvents()); n != 1 {
		t.Errorf("events = %q, want only UserCodeIssued", h.allEvents())
	}

	state := h.mustSecret(uStateName)
	if got := string(state.Data[keyDeviceCode]); got != "DEVICE-CODE-1" {
		t.Errorf("state device_code = %q", got)
	}
	if !ownedBy(state, dl) || state.Labels[authv1alpha1.DeviceLoginLabel] != uName {
		t.Errorf("state Secret owner %v labels %v", state.OwnerReferences, state.Labels)
	}
	if h.secret(uName) != nil {
		t.Error("a token Secret exists before approval")
	}

	if res.RequeueAfter != 5*time.Second {
		t.Errorf("RequeueAfter = %s, want the poll interval, 5s", res.RequeueAfter)
	}
	h.assertNoSecretsLeaked()
}

func TestUnitNoPollBeforeNextPollTime(t *testing.T) {
	h := newUHarness(t)
	h.mustReconcile()
	before := h.rvs()
	next := h.nextPollAt()
	h.resetCounts()

	h.clock.Step(3 * time.Second) // 18:15:03.25, before 18:15:05.25
	res := h.mustReconcile()
	uCalls(t, h.flow, nil)
	if after := h.rvs(); after != before {
		t.Errorf("resourceVersions (DeviceLogin, state, token) %v -> %v: a reconcile before nextPollTime wrote", before, after)
	}
	if w := h.writeCount(); w != 0 {
		t.Errorf("%d write(s) before nextPollTime: %v", w, h.traceSnapshot())
	}
	if want := next.Sub(h.clock.Now()); res.RequeueAfter != want {
		t.Errorf("RequeueAfter = %s, want %s", res.RequeueAfter, want)
	}
	if len(h.allEvents()) != 0 {
		t.Errorf("events %q", h.allEvents())
	}

	// Exactly at the booked time: one poll, and for authorization_pending no API write at all
	// (issue 12: waiting codes cost the API server nothing).
	h.stepTo(next)
	h.mustReconcile()
	uCalls(t, h.flow, map[string]int{oauthtest.MethodPollToken: 1})
	if tr := h.traceSnapshot(); len(tr) != 0 {
		t.Errorf("writes of an authorization_pending poll = %v, want none", tr)
	}
	h.mustReconcile()
	uCalls(t, h.flow, map[string]int{oauthtest.MethodPollToken: 1})
}

func TestUnitPollAnswers(t *testing.T) {
	// The first poll happens at 18:15:06.25, a second after the booked 18:15:05.25.
	pollAt := uStart.Add(6 * time.Second)
	tests := []struct {
		name         string
		err          error
		wantInterval int32
		// the next poll is booked within [now+minNext, now+maxNext], rounded up
		minNext, maxNext time.Duration
		wantFailures     int32
		wantProviderErr  int
	}{
		{name: "authorization_pending", err: uOAuthErr("authorization_pending"), wantInterval: 5, minNext: 5 * time.Second, maxNext: 5 * time.Second},
		{name: "slow_down", err: uOAuthErr("slow_down"), wantInterval: 10, minNext: 10 * time.Second, maxNext: 10 * time.Second},
		{name: "slow_down with a larger interval", err: &oauth.Error{Code: "slow_down", StatusCode: 400, Interval: 20 * time.Second},
			wantInterval: 20, minNext: 20 * time.Second, maxNext: 20 * time.Second},
		{name: "slow_down with a smaller interval", err: &oauth.Error{Code: "slow_down", StatusCode: 400, Interval: 7 * time.Second},
			wantInterval: 10, minNext: 10 * time.Second, maxNext: 10 * time.Second},
		{name: "HTTP 429", err: &oauth.TransientError{Reason: "HTTP 429", StatusCode: 429},
			wantInterval: 10, minNext: 10 * time.Second, maxNext: 10 * time.Second, wantFailures: 1, wantProviderErr: 1},
		{name: "HTTP 429 with Retry-After", err: &oauth.TransientError{Reason: "HTTP 429", StatusCode: 429, RetryAfter: 30 * time.Second},
			wantInterval: 10, minNext: 30 * time.Second, maxNext: 30 * time.Second, wantFailures: 1, wantProviderErr: 1},
		{name: "HTTP 503", err: &oauth.TransientError{Reason: "HTTP 503", StatusCode: 503},
			wantInterval: 5, minNext: 5 * time.Second, maxNext: 6 * time.Second, wantFailures: 1, wantProviderErr: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newUHarness(t)
			h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) { return nil, tt.err }
			h.mustReconcile()
			h.stepTo(pollAt)
			res := h.mustReconcile()
			uCalls(t, h.flow, map[string]int{oauthtest.MethodRequestDeviceCode: 1, oauthtest.MethodPollToken: 1})

			dl := h.dl()
			st := dl.Status
			if st.PollInterval != tt.wantInterval {
				t.Errorf("pollInterval = %d, want %d", st.PollInterval, tt.wantInterval)
			}
			if st.ConsecutiveFailures != tt.wantFailures {
				t.Errorf("consecutiveFailures = %d, want %d", st.ConsecutiveFailures, tt.wantFailures)
			}
			lo, hi := pollAt.Add(tt.minNext), pollAt.Add(tt.maxNext)
			if next := h.nextPollAt(); next.Before(lo) || next.After(hi) {
				t.Errorf("next poll at %s, want within [%s, %s]", next, lo, hi)
			} else {
				uRequeueNotLate(t, res, next.Sub(pollAt), "the next poll")
			}
			if got := len(h.eventsWith(ReasonProviderError)); got != tt.wantProviderErr {
				t.Errorf("ProviderError events = %d, want %d: %q", got, tt.wantProviderErr, h.allEvents())
			}
			c := uExpectReady(t, dl, metav1.ConditionFalse, ReasonAwaitingApproval)
			if tt.wantFailures > 0 && !strings.Contains(c.Message, "The last 1 token request(s) failed; retrying at "+timestamp(st.NextPollTime.Time)) {
				t.Errorf("Ready message %q does not tell of the failure", c.Message)
			}
			if st.UserCode != "WDJB-0001" {
				t.Errorf("userCode = %q: the code must survive %s", st.UserCode, tt.name)
			}

			// The interval in force is persisted: the next poll, answered authorization_pending,
			// books the one after that with the same interval.
			h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
				return nil, uOAuthErr("authorization_pending")
			}
			h.stepTo(h.nextPollAt())
			now := h.clock.Now()
			h.mustReconcile()
			st2 := h.dl().Status
			if st2.PollInterval != tt.wantInterval {
				t.Errorf("pollInterval after the next poll = %d, want %d", st2.PollInterval, tt.wantInterval)
			}
			if next, want := h.nextPollAt(), now.Add(time.Duration(tt.wantInterval)*time.Second); !next.Equal(want) {
				t.Errorf("next poll after the next poll at %s, want %s", next, want)
			}
			if st2.ConsecutiveFailures != 0 {
				t.Errorf("consecutiveFailures after authorization_pending = %d, want 0", st2.ConsecutiveFailures)
			}
		})
	}
}

func TestUnitTransientPollBackoff(t *testing.T) {
	h := newUHarness(t)
	h.flow.RequestDeviceCodeFn = func(context.Context, oauth.ClientConfig, oauth.DeviceRequest) (*oauth.DeviceAuthorization, error) {
		return uCode(1, time.Hour, 5*time.Second), nil
	}
	h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
		return nil, &oauth.TransientError{Reason: "connection refused"}
	}
	h.mustReconcile()
	for n := int32(1); n <= 9; n++ {
		h.stepTo(h.nextPollAt())
		now := h.clock.Now()
		res := h.mustReconcile()
		st := h.dl().Status
		if st.ConsecutiveFailures != n {
			t.Fatalf("after failure %d: consecutiveFailures = %d", n, st.ConsecutiveFailures)
		}
		nominal := min(backoffBase<<(n-1), backoffCap)
		lo := max(time.Duration(float64(nominal)*0.8), 5*time.Second)
		hi := time.Duration(float64(nominal)*1.2) + time.Second
		if d := h.nextPollAt().Sub(now); d < lo || d > hi {
			t.Errorf("after failure %d: next poll in %s, want within [%s, %s]", n, d, lo, hi)
		}
		uRequeueNotLate(t, res, h.nextPollAt().Sub(now), "the next poll")
		if st.PollInterval != 5 {
			t.Errorf("after failure %d: pollInterval = %d, want 5 (only 429 raises it)", n, st.PollInterval)
		}
	}
	if got := h.eventsWith(ReasonProviderError); len(got) != 1 {
		t.Errorf("ProviderError events over 9 failures = %q, want exactly one", got)
	}
	uCalls(t, h.flow, map[string]int{oauthtest.MethodRequestDeviceCode: 1, oauthtest.MethodPollToken: 9})

	// Back to normal: the failures are forgotten, the interval is the provider's again.
	h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
		return nil, uOAuthErr("authorization_pending")
	}
	h.stepTo(h.nextPollAt())
	now := h.clock.Now()
	h.mustReconcile()
	st := h.dl().Status
	if st.ConsecutiveFailures != 0 {
		t.Errorf("consecutiveFailures after authorization_pending = %d", st.ConsecutiveFailures)
	}
	if next, want := h.nextPollAt(), now.Add(5*time.Second); !next.Equal(want) {
		t.Errorf("next poll at %s, want %s", next, want)
	}
	c := uExpectReady(t, h.dl(), metav1.ConditionFalse, ReasonAwaitingApproval)
	if strings.Contains(c.Message, "failed") {
		t.Errorf("Ready message still tells of failures: %q", c.Message)
	}
}

func TestUnitBackoff(t *testing.T) {
	// backoff doubles from 5s and stops doubling at 5m; the jitter is ±20% of that, so the longest
	// delay is 6m.
	tests := []struct {
		n       int32
		nominal time.Duration
	}{
		{0, 5 * time.Second}, {1, 5 * time.Second}, {2, 10 * time.Second}, {3, 20 * time.Second},
		{4, 40 * time.Second}, {5, 80 * time.Second}, {6, 160 * time.Second}, {7, 5 * time.Minute},
		{8, 5 * time.Minute}, {20, 5 * time.Minute}, {1 << 30, 5 * time.Minute}, {2147483647, 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.n), func(t *testing.T) {
			lo, hi := time.Duration(float64(tt.nominal)*0.8), time.Duration(float64(tt.nominal)*1.2)
			seen := map[time.Duration]bool{}
			for range 500 {
				d := backoff(tt.n)
				if d < lo || d > hi {
					t.Fatalf("backoff(%d) = %s, want within [%s, %s]", tt.n, d, lo, hi)
				}
				if d > 6*time.Minute {
					t.Fatalf("backoff(%d) = %s exceeds the cap plus jitter", tt.n, d)
				}
				seen[d] = true
			}
			if len(seen) < 2 {
				t.Errorf("backoff(%d) has no jitter", tt.n)
			}
		})
	}
}

func TestUnitCodeExpired(t *testing.T) {
	tests := []struct {
		name   string
		policy authv1alpha1.CodeExpiryPolicy
		// byPoll: the provider answers expired_token; else the clock passes userCodeExpiresAt.
		byPoll bool
	}{
		{"Renew, expired_token", authv1alpha1.CodeExpiryRenew, true},
		{"Renew, clock", authv1alpha1.CodeExpiryRenew, false},
		{"Stop, expired_token", authv1alpha1.CodeExpiryStop, true},
		{"Stop, clock", authv1alpha1.CodeExpiryStop, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newUHarness(t, func(s *uSetup) { s.dl.Spec.CodeExpiryPolicy = tt.policy })
			h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
				return nil, uOAuthErr("expired_token")
			}
			h.mustReconcile()
			wantPolls := 0
			if tt.byPoll {
				h.stepTo(h.nextPollAt())
				wantPolls = 1
			} else {
				h.stepTo(h.dl().Status.UserCodeExpiresAt.Time)
			}
			res := h.mustReconcile()

			expired := h.eventsWith(ReasonCodeExpired)
			if len(expired) != 1 || !strings.HasPrefix(expired[0], "Warning CodeExpired The user code WDJB-0001 expired at 2026-11-28T18:20:00Z") {
				t.Errorf("CodeExpired events = %q", expired)
			}
			dl := h.dl()
			state := h.mustSecret(uStateName)
			if tt.policy == authv1alpha1.CodeExpiryRenew {
				uCalls(t, h.flow, map[string]int{oauthtest.MethodRequestDeviceCode: 2, oauthtest.MethodPollToken: wantPolls})
				if dl.Status.UserCode != "WDJB-0002" || string(state.Data[keyDeviceCode]) != "DEVICE-CODE-2" {
					t.Errorf("after renewal: userCode %q, device_code %q", dl.Status.UserCode, state.Data[keyDeviceCode])
				}
				if n := len(h.eventsWith(EventUserCodeIssued)); n != 2 {
					t.Errorf("UserCodeIssued events = %d, want 2", n)
				}
				uExpectReady(t, dl, metav1.ConditionFalse, ReasonAwaitingApproval)
				uTimeEq(t, "userCodeExpiresAt", dl.Status.UserCodeExpiresAt, h.clock.Now().Add(5*time.Minute).Truncate(time.Second))
				return
			}

			// Stop: no new code, now or later, until the reauthorize annotation changes.
			uCalls(t, h.flow, map[string]int{oauthtest.MethodRequestDeviceCode: 1, oauthtest.MethodPollToken: wantPolls})
			c := uExpectReady(t, dl, metav1.ConditionFalse, ReasonCodeExpired)
			if !strings.Contains(c.Message, authv1alpha1.ReauthorizeAnnotation) {
				t.Errorf("Ready message %q does not say how to go on", c.Message)
			}
			if dl.Status.UserCode != "" || dl.Status.NextPollTime != nil || state.Data[keyDeviceCode] != nil {
				t.Errorf("expired code kept: userCode %q nextPollTime %v device_code %q", dl.Status.UserCode, dl.Status.NextPollTime, state.Data[keyDeviceCode])
			}
			if res.RequeueAfter != 0 {
				t.Logf("early wake: RequeueAfter = %s while stopped (nothing is due)", res.RequeueAfter)
			}
			h.resetCounts()
			for range 3 {
				h.clock.Step(10 * time.Minute)
				res = h.mustReconcile()
			}
			if res.RequeueAfter != 0 {
				t.Errorf("RequeueAfter = %s while stopped, want none", res.RequeueAfter)
			}
			uCalls(t, h.flow, nil)
			if w := h.writeCount(); w != 0 || len(h.allEvents()) != 0 {
				t.Errorf("while stopped: writes %v, events %q", h.traceSnapshot(), h.allEvents())
			}
			uExpectReady(t, h.dl(), metav1.ConditionFalse, ReasonCodeExpired)

			h.updateDL(func(dl *authv1alpha1.DeviceLogin) {
				dl.Annotations = map[string]string{authv1alpha1.ReauthorizeAnnotation: "2026-11-28"}
			})
			h.mustReconcile()
			uCalls(t, h.flow, map[string]int{oauthtest.MethodRequestDeviceCode: 1})
			dl = h.dl()
			if dl.Status.UserCode != "WDJB-0002" || dl.Status.LastHandledReauthorize != "2026-11-28" {
				t.Errorf("after reauthorize: userCode %q lastHandledReauthorize %q", dl.Status.UserCode, dl.Status.LastHandledReauthorize)
			}
			uExpectReady(t, dl, metav1.ConditionFalse, ReasonAwaitingApproval)
			h.mustReconcile()
			uCalls(t, h.flow, map[string]int{oauthtest.MethodRequestDeviceCode: 1})
		})
	}
}

func TestUnitFlowEnds(t *testing.T) {
	tests := []struct {
		code, reason string
	}{
		{"access_denied", ReasonAccessDenied},
		{"authorization_declined", ReasonAccessDenied},
		{"invalid_client", ReasonProviderError},
		{"unsupported_grant_type", ReasonProviderError},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			h := newUHarness(t)
			h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
				return nil, uOAuthErr(tt.code)
			}
			h.mustReconcile()
			h.stepTo(h.nextPollAt())
			res := h.mustReconcile()

			dl := h.dl()
			c := uExpectReady(t, dl, metav1.ConditionFalse, tt.reason)
			if !strings.Contains(c.Message, authv1alpha1.ReauthorizeAnnotation) {
				t.Errorf("Ready message %q does not say how to go on", c.Message)
			}
			if ev := h.eventsWith(tt.reason); len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning "+tt.reason) {
				t.Errorf("%s events = %q", tt.reason, h.allEvents())
			}
			if dl.Status.UserCode != "" || dl.Status.NextPollTime != nil || dl.Status.ConsecutiveFailures != 0 {
				t.Errorf("status keeps the flow: %+v", dl.Status)
			}
			if h.mustSecret(uStateName).Data[keyDeviceCode] != nil {
				t.Error("state Secret keeps the device code")
			}
			if res.RequeueAfter != 0 {
				t.Logf("early wake: RequeueAfter = %s after the flow ended (nothing is due)", res.RequeueAfter)
			}

			h.resetCounts()
			for range 6 {
				h.clock.Step(time.Minute)
				res = h.mustReconcile()
			}
			if res.RequeueAfter != 0 {
				t.Errorf("RequeueAfter = %s after the flow ended, want none", res.RequeueAfter)
			}
			uCalls(t, h.flow, nil)
			if w := h.writeCount(); w != 0 || len(h.allEvents()) != 0 {
				t.Errorf("after the flow ended: writes %v, events %q", h.traceSnapshot(), h.allEvents())
			}
			uExpectReady(t, h.dl(), metav1.ConditionFalse, tt.reason)
		})
	}
}

func TestUnitAuthorized(t *testing.T) {
	tests := []struct {
		name          string
		include       bool
		refreshBefore time.Duration
		tok           func() *oauth.Token
		wantScopes    []string
	}{
		{name: "defaults", tok: func() *oauth.Token { return uToken(1, uLife) }, wantScopes: []string{"openid", "email"}},
		{name: "includeRefreshToken", include: true, tok: func() *oauth.Token { return uToken(1, uLife) }, wantScopes: []string{"openid", "email"}},
		{name: "refreshBefore 10m", refreshBefore: 10 * time.Minute, tok: func() *oauth.Token { return uToken(1, uLife) }, wantScopes: []string{"openid", "email"}},
		{name: "refreshBefore longer than half the life", refreshBefore: 50 * time.Minute, tok: func() *oauth.Token { return uToken(1, uLife) }, wantScopes: []string{"openid", "email"}},
		{name: "no scope, no id token, short life", tok: func() *oauth.Token {
			tok := uToken(1, 6*time.Minute)
			tok.Scope, tok.IDToken = "", ""
			return tok
		}, wantScopes: uScopes},
		{name: "does not expire", tok: func() *oauth.Token { return uToken(1, 0) }, wantScopes: []string{"openid", "email"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newUHarness(t, func(s *uSetup) {
				s.dl.Spec.IncludeRefreshToken = tt.include
				if tt.refreshBefore > 0 {
					s.dl.Spec.RefreshBefore = &metav1.Duration{Duration: tt.refreshBefore}
				}
			})
			tok := tt.tok()
			var subjectGot *oauth.Token
			h.flow.SubjectFn = func(_ context.Context, _ oauth.ClientConfig, tok *oauth.Token) (string, error) {
				subjectGot = tok
				return uSubject, nil
			}
			var polledWith string
			h.mustReconcile()
			h.flow.PollTokenFn = func(_ context.Context, _ oauth.ClientConfig, dc string) (*oauth.Token, error) {
				polledWith = dc
				return tok, nil
			}
			h.stepTo(h.nextPollAt())
			issued := h.clock.Now()
			res := h.mustReconcile()

			uCalls(t, h.flow, map[string]int{oauthtest.MethodRequestDeviceCode: 1, oauthtest.MethodPollToken: 1, oauthtest.MethodSubject: 1})
			if polledWith != "DEVICE-CODE-1" {
				t.Errorf("polled with %q", polledWith)
			}
			if subjectGot == nil || subjectGot.AccessToken != "ACCESS-TOKEN-1" {
				t.Errorf("Subject got %+v", subjectGot)
			}
			dl := h.dl()
			sec := h.mustSecret(uName)
			want := map[string]string{KeyAccessToken: "ACCESS-TOKEN-1", KeyTokenType: "Bearer"}
			if tok.ExpiresIn > 0 {
				want[KeyExpiry] = issued.Add(tok.ExpiresIn).UTC().Format(time.RFC3339)
			}
			// No scope in the answer means the requested scopes were granted (RFC 6749 section 5.1).
			want[KeyScope] = strings.Join(tt.wantScopes, " ")
			if tok.IDToken != "" {
				want[KeyIDToken] = tok.IDToken
			}
			if tt.include {
				want[KeyRefreshToken] = "REFRESH-TOKEN-1"
			}
			got := map[string]string{}
			for k, v := range sec.Data {
				got[k] = string(v)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("token Secret data = %v, want %v", got, want)
			}
			if sec.Type != corev1.SecretTypeOpaque || sec.Labels[authv1alpha1.DeviceLoginLabel] != uName {
				t.Errorf("token Secret type %q labels %v", sec.Type, sec.Labels)
			}
			ref := metav1.GetControllerOf(sec)
			if ref == nil || ref.UID != uUID || ref.Kind != "DeviceLogin" || ref.Name != uName || ref.APIVersion != authv1alpha1.GroupVersion.String() {
				t.Errorf("token Secret controller reference = %+v", ref)
			}
			state := h.mustSecret(uStateName)
			if string(state.Data[KeyRefreshToken]) != "REFRESH-TOKEN-1" || state.Data[keyDeviceCode] != nil {
				t.Errorf("state Secret refresh_token %q device_code %q", state.Data[KeyRefreshToken], state.Data[keyDeviceCode])
			}

			st := dl.Status
			if st.AuthorizedSubject != uSubject || !slices.Equal(st.GrantedScopes, tt.wantScopes) || st.SecretName != uName {
				t.Errorf("authorizedSubject %q grantedScopes %v secretName %q", st.AuthorizedSubject, st.GrantedScopes, st.SecretName)
			}
			uTimeEq(t, "authorizedAt", st.AuthorizedAt, issued.Truncate(time.Second))
			if st.UserCode != "" || st.ApprovalURL != "" || st.NextPollTime != nil || st.UserCodeExpiresAt != nil || st.PollInterval != 0 {
				t.Errorf("pending code left in status: %+v", st)
			}
			c := uExpectReady(t, dl, metav1.ConditionTrue, ReasonAuthorized)
			if ev := h.eventsWith(ReasonAuthorized); len(ev) != 1 || !strings.Contains(ev[0], "by "+uSubject) {
				t.Errorf("Authorized events = %q", h.allEvents())
			}

			if tok.ExpiresIn == 0 {
				if st.TokenExpiresAt != nil || st.NextRefreshTime != nil {
					t.Errorf("token that does not expire: tokenExpiresAt %v nextRefreshTime %v", st.TokenExpiresAt, st.NextRefreshTime)
				}
				if res.RequeueAfter != 0 {
					t.Logf("early wake: RequeueAfter = %s for a token that does not expire", res.RequeueAfter)
				}
				h.stepTo(h.clock.Now().Add(res.RequeueAfter))
				if res = h.mustReconcile(); res.RequeueAfter != 0 {
					t.Errorf("RequeueAfter = %s for a token that does not expire, want none", res.RequeueAfter)
				}
				return
			}
			life := tok.ExpiresIn
			expiry := issued.Add(life)
			uTimeEq(t, "tokenExpiresAt", st.TokenExpiresAt, expiry.Truncate(time.Second))
			planned := issued.Add(life * 2 / 3)
			if tt.refreshBefore > 0 {
				planned = expiry.Add(-tt.refreshBefore)
				if half := issued.Add(life / 2); planned.Before(half) {
					planned = half
				}
			}
			maxJitter := min(life/20, 2*time.Minute)
			lo, hi := planned.Add(-maxJitter).Truncate(time.Second), planned
			if st.NextRefreshTime == nil || st.NextRefreshTime.Time.Before(lo) || st.NextRefreshTime.Time.After(hi) {
				t.Errorf("nextRefreshTime = %v, want within [%s, %s]", st.NextRefreshTime, lo, hi)
			}
			uRequeueNotLate(t, res, st.NextRefreshTime.Sub(issued)+time.Second, "nextRefreshTime")
			if !strings.Contains(c.Message, "next refresh at "+timestamp(st.NextRefreshTime.Time)) {
				t.Errorf("Ready message %q", c.Message)
			}
			h.assertNoSecretsLeaked()
		})
	}
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

func TestUnitSteadyState(t *testing.T) {
	h, _ := uAuthorized(t)
	before := h.rvs()

	res := h.mustReconcile()
	uCalls(t, h.flow, nil)
	if after := h.rvs(); after != before {
		t.Errorf("resourceVersions (DeviceLogin, state, token) %v -> %v", before, after)
	}
	if res.RequeueAfter <= 0 || res.RequeueAfter != h.dl().Status.NextRefreshTime.Sub(h.clock.Now()) {
		t.Errorf("RequeueAfter = %s, want until nextRefreshTime %v", res.RequeueAfter, h.dl().Status.NextRefreshTime)
	}

	h.resetCounts()
	for range 60 {
		h.clock.Step(time.Second)
		h.mustReconcile()
	}
	writes := h.writeCount()
	t.Logf("MEASURE steady-state writes over 60 reconciles: %d", writes)
	if writes != 0 {
		t.Errorf("steady state wrote: %v", h.traceSnapshot())
	}
	if n := h.flow.TotalCalls(); n != 0 {
		t.Errorf("steady state called the provider %d time(s)", n)
	}
	if after := h.rvs(); after != before {
		t.Errorf("resourceVersions (DeviceLogin, state, token) %v -> %v", before, after)
	}
	if ev := h.allEvents(); len(ev) != 0 {
		t.Errorf("steady state events: %q", ev)
	}
	h.assertNoSecretsLeaked()
}

func TestUnitRefresh(t *testing.T) {
	t.Run("rotated", func(t *testing.T) {
		h, _ := uAuthorized(t)
		var got []string
		h.flow.RefreshFn = func(_ context.Context, _ oauth.ClientConfig, rt string) (*oauth.Token, error) {
			got = append(got, rt)
			h.note("Refresh " + rt)
			tok := uToken(2, uLife)
			tok.Rotated = true
			return tok, nil
		}
		h.stepTo(h.dl().Status.NextRefreshTime.Time)
		now := h.clock.Now()
		res := h.mustReconcile()

		uCalls(t, h.flow, map[string]int{oauthtest.MethodRefresh: 1})
		if !slices.Equal(got, []string{"REFRESH-TOKEN-1"}) {
			t.Errorf("Refresh got %q", got)
		}
		state, sec := h.mustSecret(uStateName), h.mustSecret(uName)
		if string(state.Data[KeyRefreshToken]) != "REFRESH-TOKEN-2" || string(state.Data[KeyAccessToken]) != "ACCESS-TOKEN-2" {
			t.Errorf("state Secret after rotation: refresh_token %q access_token %q", state.Data[KeyRefreshToken], state.Data[KeyAccessToken])
		}
		if string(sec.Data[KeyAccessToken]) != "ACCESS-TOKEN-2" || string(sec.Data[KeyExpiry]) != now.Add(uLife).UTC().Format(time.RFC3339) {
			t.Errorf("token Secret after refresh: %q %q", sec.Data[KeyAccessToken], sec.Data[KeyExpiry])
		}
		tr := h.traceSnapshot()
		iState := slices.Index(tr, "Update Secret/"+uStateName)
		iToken := slices.Index(tr, "Update Secret/"+uName)
		iRefresh := slices.Index(tr, "Refresh REFRESH-TOKEN-1")
		if iRefresh < 0 || iState < 0 || iToken < 0 || iRefresh >= iState || iState >= iToken {
			t.Errorf("order of the refresh's writes = %v, want the provider call, then the state Secret, then the token Secret", tr)
		}

		dl := h.dl()
		st := dl.Status
		uTimeEq(t, "lastRefreshTime", st.LastRefreshTime, now.Truncate(time.Second))
		uTimeEq(t, "tokenExpiresAt", st.TokenExpiresAt, now.Add(uLife).Truncate(time.Second))
		planned := now.Add(uLife * 2 / 3)
		if lo := planned.Add(-2 * time.Minute).Truncate(time.Second); st.NextRefreshTime == nil ||
			st.NextRefreshTime.Time.Before(lo) || st.NextRefreshTime.Time.After(planned) {
			t.Errorf("nextRefreshTime = %v, want within [%s, %s]", st.NextRefreshTime, lo, planned)
		}
		if res.RequeueAfter <= 0 || res.RequeueAfter > uLife*2/3 {
			t.Errorf("RequeueAfter = %s", res.RequeueAfter)
		}
		rc := meta.FindStatusCondition(st.Conditions, ConditionTokenRefreshed)
		if rc == nil || rc.Status != metav1.ConditionTrue || rc.Reason != ReasonRefreshSucceeded {
			t.Errorf("TokenRefreshed condition = %+v", rc)
		}
		uExpectReady(t, dl, metav1.ConditionTrue, ReasonAuthorized)
		if ev := h.eventsWith(EventTokenRefreshed); len(ev) != 1 || !strings.HasPrefix(ev[0], "Normal TokenRefreshed") {
			t.Errorf("TokenRefreshed events = %q", h.allEvents())
		}
		h.mustReconcile()
		uCalls(t, h.flow, map[string]int{oauthtest.MethodRefresh: 1})
		h.assertNoSecretsLeaked()
	})

	t.Run("refresh annotation", func(t *testing.T) {
		h, _ := uAuthorized(t)
		h.flow.RefreshFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) { return uToken(2, uLife), nil }
		h.clock.Step(time.Minute)
		h.updateDL(func(dl *authv1alpha1.DeviceLogin) {
			dl.Annotations = map[string]string{authv1alpha1.RefreshAnnotation: "now"}
		})
		h.mustReconcile()
		h.mustReconcile()
		uCalls(t, h.flow, map[string]int{oauthtest.MethodRefresh: 1})
		if dl := h.dl(); dl.Status.LastHandledRefresh != "now" {
			t.Errorf("lastHandledRefresh = %q", dl.Status.LastHandledRefresh)
		}
		if got := string(h.mustSecret(uName).Data[KeyAccessToken]); got != "ACCESS-TOKEN-2" {
			t.Errorf("token Secret access_token = %q", got)
		}
	})

	refused := []struct {
		name string
		err  error
	}{
		{"invalid_grant", uOAuthErr("invalid_grant")},
		{"Dex already claimed", &oauth.Error{Code: "invalid_request", StatusCode: 400, Description: "Refresh token claimed twice"}},
	}
	for _, tt := range refused {
		t.Run("refused: "+tt.name, func(t *testing.T) {
			h, _ := uAuthorized(t)
			h.flow.RefreshFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) { return nil, tt.err }
			tokenRV := h.mustSecret(uName).ResourceVersion
			h.stepTo(h.dl().Status.NextRefreshTime.Time)
			h.mustReconcile()

			uCalls(t, h.flow, map[string]int{oauthtest.MethodRefresh: 1, oauthtest.MethodRequestDeviceCode: 1})
			sec := h.mustSecret(uName)
			if string(sec.Data[KeyAccessToken]) != "ACCESS-TOKEN-1" || sec.ResourceVersion != tokenRV {
				t.Errorf("token Secret changed: access_token %q", sec.Data[KeyAccessToken])
			}
			state := h.mustSecret(uStateName)
			if state.Data[KeyRefreshToken] != nil || string(state.Data[keyDeviceCode]) != "DEVICE-CODE-2" ||
				string(state.Data[KeyAccessToken]) != "ACCESS-TOKEN-1" {
				t.Errorf("state Secret: refresh_token %q device_code %q access_token %q",
					state.Data[KeyRefreshToken], state.Data[keyDeviceCode], state.Data[KeyAccessToken])
			}
			dl := h.dl()
			c := uExpectReady(t, dl, metav1.ConditionTrue, ReasonReauthorizationRequired)
			if !strings.Contains(c.Message, "Visit "+uVerifyURI+" and enter code WDJB-0002") {
				t.Errorf("Ready message %q does not show the new code", c.Message)
			}
			if dl.Status.UserCode != "WDJB-0002" || dl.Status.NextRefreshTime != nil {
				t.Errorf("userCode %q nextRefreshTime %v", dl.Status.UserCode, dl.Status.NextRefreshTime)
			}
			rc := meta.FindStatusCondition(dl.Status.Conditions, ConditionTokenRefreshed)
			if rc == nil || rc.Status != metav1.ConditionFalse || rc.Reason != ReasonReauthorizationRequired {
				t.Errorf("TokenRefreshed condition = %+v", rc)
			}
			if len(h.eventsWith(ReasonReauthorizationRequired)) != 1 || len(h.eventsWith(EventUserCodeIssued)) != 1 {
				t.Errorf("events = %q", h.allEvents())
			}
			h.clock.Step(time.Second)
			h.mustReconcile()
			uCalls(t, h.flow, map[string]int{oauthtest.MethodRefresh: 1, oauthtest.MethodRequestDeviceCode: 1})
			h.assertNoSecretsLeaked()
		})
	}

	t.Run("transient failure", func(t *testing.T) {
		h, issued := uAuthorized(t)
		h.flow.RefreshFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
			return nil, &oauth.TransientError{Reason: "HTTP 503", StatusCode: 503}
		}
		tokenRV := h.mustSecret(uName).ResourceVersion
		for n := int32(1); n <= 3; n++ {
			h.stepTo(h.dl().Status.NextRefreshTime.Time)
			now := h.clock.Now()
			h.mustReconcile()
			dl := h.dl()
			if dl.Status.ConsecutiveFailures != n {
				t.Errorf("after failure %d: consecutiveFailures %d", n, dl.Status.ConsecutiveFailures)
			}
			nominal := min(backoffBase<<(n-1), backoffCap)
			lo, hi := now.Add(time.Duration(float64(nominal)*0.8)), now.Add(time.Duration(float64(nominal)*1.2)+time.Second)
			if next := dl.Status.NextRefreshTime; next == nil || next.Time.Before(lo) || next.Time.After(hi) {
				t.Errorf("after failure %d: nextRefreshTime %v, want within [%s, %s]", n, next, lo, hi)
			}
			rc := meta.FindStatusCondition(dl.Status.Conditions, ConditionTokenRefreshed)
			if rc == nil || rc.Status != metav1.ConditionFalse || rc.Reason != ReasonRefreshFailed {
				t.Errorf("after failure %d: TokenRefreshed condition = %+v", n, rc)
			}
			uExpectReady(t, dl, metav1.ConditionTrue, ReasonAuthorized)
		}
		uCalls(t, h.flow, map[string]int{oauthtest.MethodRefresh: 3})
		if ev := h.eventsWith(EventRefreshFailed); len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning RefreshFailed") {
			t.Errorf("RefreshFailed events = %q, want one", h.allEvents())
		}
		if sec := h.mustSecret(uName); sec.ResourceVersion != tokenRV {
			t.Error("a failed refresh rewrote the token Secret")
		}

		// Until the token expires: then Ready turns False.
		h.stepTo(issued.Add(uLife))
		h.mustReconcile()
		uExpectReady(t, h.dl(), metav1.ConditionFalse, ReasonProviderNotReady)

		// The provider is back.
		h.flow.RefreshFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) { return uToken(2, uLife), nil }
		h.stepTo(h.dl().Status.NextRefreshTime.Time)
		h.mustReconcile()
		dl := h.dl()
		rc := meta.FindStatusCondition(dl.Status.Conditions, ConditionTokenRefreshed)
		if rc == nil || rc.Status != metav1.ConditionTrue || dl.Status.ConsecutiveFailures != 0 {
			t.Errorf("after recovery: TokenRefreshed %+v consecutiveFailures %d", rc, dl.Status.ConsecutiveFailures)
		}
		uExpectReady(t, dl, metav1.ConditionTrue, ReasonAuthorized)
		if string(h.mustSecret(uName).Data[KeyAccessToken]) != "ACCESS-TOKEN-2" {
			t.Error("token Secret not updated after recovery")
		}
	})
}

// refuseState refuses every write of the state Secret.
func refuseState(verb string, obj client.Object) error {
	if _, ok := obj.(*corev1.Secret); ok && obj.GetName() == uStateName && (verb == "Create" || verb == "Update" || verb == "Patch") {
		return apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, uStateName, errors.New("injected by the test"))
	}
	return nil
}

func TestUnitRotatedRefreshTokenSurvivesRefusedStateWrite(t *testing.T) {
	h, _ := uAuthorized(t)
	var got []string
	var stateAtCall []string
	h.flow.RefreshFn = func(_ context.Context, _ oauth.ClientConfig, rt string) (*oauth.Token, error) {
		got = append(got, rt)
		h.note("Refresh " + rt)
		if s := h.secret(uStateName); s != nil {
			stateAtCall = append(stateAtCall, string(s.Data[KeyRefreshToken]))
		}
		tok := uToken(len(got)+1, uLife)
		tok.Rotated = true
		return tok, nil
	}
	h.stepTo(h.dl().Status.NextRefreshTime.Time)
	h.setRefuse(refuseState)
	if _, err := h.reconcile(); err == nil {
		t.Fatal("Reconcile succeeded although the rotated refresh token could not be stored")
	}
	if got := string(h.mustSecret(uStateName).Data[KeyRefreshToken]); got != "REFRESH-TOKEN-1" {
		t.Fatalf("state refresh_token = %q", got)
	}
	if got := string(h.mustSecret(uName).Data[KeyAccessToken]); got != "ACCESS-TOKEN-1" {
		t.Errorf("token Secret written before the state: access_token %q", got)
	}

	h.setRefuse(nil)
	h.resetCounts()
	h.clock.Step(time.Second)
	h.mustReconcile()
	tr := h.traceSnapshot()
	iState := slices.Index(tr, "Update Secret/"+uStateName)
	iRefresh := slices.IndexFunc(tr, func(s string) bool { return strings.HasPrefix(s, "Refresh ") })
	if iState < 0 || (iRefresh >= 0 && iRefresh < iState) {
		t.Errorf("writes and calls = %v, want the state Secret written before any new refresh", tr)
	}
	if len(got) < 2 {
		// Not refreshed again in that reconcile: the next refresh, when due, must use the rotated token.
		h.stepTo(h.dl().Status.NextRefreshTime.Time)
		h.mustReconcile()
	}
	t.Logf("writes and provider calls after the refused write: %v", h.traceSnapshot())
	if len(got) < 2 {
		t.Fatalf("no refresh after the refused write: calls %q", got)
	}
	if got[1] != "REFRESH-TOKEN-2" {
		t.Errorf("the refresh after the refused write sent %q, want the rotated REFRESH-TOKEN-2", got[1])
	}
	if stateAtCall[1] != "REFRESH-TOKEN-2" {
		t.Errorf("state Secret held %q when the provider was called again, want REFRESH-TOKEN-2", stateAtCall[1])
	}
	// No refresh token the provider issued is lost, and the workload gets the newest access token.
	last := len(got) + 1
	if rt := string(h.mustSecret(uStateName).Data[KeyRefreshToken]); rt != fmt.Sprintf("REFRESH-TOKEN-%d", last) {
		t.Errorf("state refresh_token = %q, want the last one issued, REFRESH-TOKEN-%d (calls %q)", rt, last, got)
	}
	if at := string(h.mustSecret(uName).Data[KeyAccessToken]); at != fmt.Sprintf("ACCESS-TOKEN-%d", last) {
		t.Errorf("token Secret access_token = %q, want ACCESS-TOKEN-%d", at, last)
	}
	uExpectReady(t, h.dl(), metav1.ConditionTrue, ReasonAuthorized)
}

// BUG demonstrator: the same refused write at approval time loses the refresh schedule.
func TestUnitStateWriteRefusedAtApproval(t *testing.T) {
	h := newUHarness(t)
	h.mustReconcile()
	h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) { return uToken(1, uLife), nil }
	h.stepTo(h.nextPollAt())
	issued := h.clock.Now()
	h.setRefuse(refuseState)
	if _, err := h.reconcile(); err == nil {
		t.Fatal("Reconcile succeeded although the tokens could not be stored")
	}
	h.setRefuse(nil)
	h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
		return nil, errors.New("unexpected poll")
	}
	h.flow.RefreshFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) { return uToken(2, uLife), nil }
	h.clock.Step(time.Second)
	res := h.mustReconcile()

	if got := string(h.mustSecret(uStateName).Data[KeyRefreshToken]); got != "REFRESH-TOKEN-1" {
		t.Fatalf("state refresh_token = %q: the tokens from the approval were lost", got)
	}
	if got := string(h.mustSecret(uName).Data[KeyAccessToken]); got != "ACCESS-TOKEN-1" {
		t.Fatalf("token Secret access_token = %q", got)
	}
	dl := h.dl()
	uExpectReady(t, dl, metav1.ConditionTrue, ReasonAuthorized)
	if dl.Status.TokenExpiresAt == nil || dl.Status.NextRefreshTime == nil || dl.Status.AuthorizedAt == nil {
		t.Errorf("BUG: after a refused state write at approval, the tokens are stored from memory but status has "+
			"tokenExpiresAt %v, nextRefreshTime %v, authorizedAt %v: the token is never refreshed (RequeueAfter %s)",
			dl.Status.TokenExpiresAt, dl.Status.NextRefreshTime, dl.Status.AuthorizedAt, res.RequeueAfter)
	}
	// Consequence: past the expiry nothing refreshes and nothing asks for a new code.
	h.stepTo(issued.Add(uLife + time.Minute))
	res = h.mustReconcile()
	h.mustReconcile()
	if h.flow.Calls(oauthtest.MethodRefresh) == 0 && h.flow.Calls(oauthtest.MethodRequestDeviceCode) == 1 {
		c := uReady(t, h.dl())
		t.Errorf("BUG: the token expired and the DeviceLogin is stuck at Ready=%s/%s with no refresh, no new code and RequeueAfter %s",
			c.Status, c.Reason, res.RequeueAfter)
	}
}

// Quirks.PollMargin is added once, by oauth.Client; the controller uses the interval as given.
func TestUnitPollMarginCountedOnce(t *testing.T) {
	h := newUHarness(t, func(s *uSetup) { s.provider.Spec.Preset = authv1alpha1.PresetSentry })
	var margin time.Duration
	h.flow.RequestDeviceCodeFn = func(_ context.Context, cfg oauth.ClientConfig, _ oauth.DeviceRequest) (*oauth.DeviceAuthorization, error) {
		margin = cfg.Quirks.PollMargin
		// As oauth.Client returns it: "The returned Interval already includes Quirks.PollMargin."
		return uCode(1, 5*time.Minute, 5*time.Second+cfg.Quirks.PollMargin), nil
	}
	h.mustReconcile()
	if margin != time.Second {
		t.Fatalf("Sentry's PollMargin = %s, want 1s", margin)
	}
	st := h.dl().Status
	if st.PollInterval != 6 {
		t.Errorf("pollInterval = %d, want 6 (5s from the provider plus the 1s margin)", st.PollInterval)
	}
	if want := uStart.Add(6 * time.Second); !h.nextPollAt().Equal(want) {
		t.Errorf("next poll at %s, want %s: the 1s margin is counted once", h.nextPollAt(), want)
	}
	h.stepTo(h.nextPollAt())
	now := h.clock.Now()
	h.mustReconcile()
	if want := now.Add(6 * time.Second); !h.nextPollAt().Equal(want) {
		t.Errorf("after a poll the next one is at %s, want %s (margin counted once)", h.nextPollAt(), want)
	}
}

func TestUnitInvalidTemplate(t *testing.T) {
	tests := []struct {
		name, tmpl, wantMsg string
	}{
		{"does not render", "{{ b64dec .AccessToken }}", "secretTemplate.data[broken] does not render"},
		{"does not parse", "{{ .AccessToken ", "secretTemplate.data[broken] does not parse"},
		{"unknown field", "{{ .Nope }}", "secretTemplate.data[broken] does not parse"},
		{"unbounded builtin", `{{$a := printf "%01000000d" 0}}{{$a = print $a $a}}`, "secretTemplate.data[broken] does not parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := uAuthorized(t)
			before := h.mustSecret(uName)
			h.updateDL(func(dl *authv1alpha1.DeviceLogin) {
				dl.Spec.SecretTemplate = &authv1alpha1.SecretTemplate{Data: map[string]string{"broken": tt.tmpl}}
				dl.Generation++
			})
			h.clock.Step(time.Second)
			h.mustReconcile()

			dl := h.dl()
			c := uExpectReady(t, dl, metav1.ConditionFalse, ReasonInvalidSpec)
			if !strings.Contains(c.Message, tt.wantMsg) {
				t.Errorf("Ready message %q does not contain %q", c.Message, tt.wantMsg)
			}
			if dl.Status.ObservedGeneration != 2 {
				t.Errorf("observedGeneration = %d", dl.Status.ObservedGeneration)
			}
			after := h.mustSecret(uName)
			if after.ResourceVersion != before.ResourceVersion || string(after.Data[KeyAccessToken]) != "ACCESS-TOKEN-1" || after.Data["broken"] != nil {
				t.Errorf("token Secret changed: %v", after.Data)
			}
			if ev := h.eventsWith(ReasonInvalidSpec); len(ev) != 1 {
				t.Errorf("InvalidSpec events = %q", h.allEvents())
			}
			uCalls(t, h.flow, nil)
			h.assertNoSecretsLeaked()
		})
	}
}

func TestUnitSpecChanges(t *testing.T) {
	t.Run("scopes: a new code", func(t *testing.T) {
		h, _ := uAuthorized(t)
		tokenRV := h.mustSecret(uName).ResourceVersion
		var req oauth.DeviceRequest
		h.flow.RequestDeviceCodeFn = func(_ context.Context, _ oauth.ClientConfig, r oauth.DeviceRequest) (*oauth.DeviceAuthorization, error) {
			req = r
			return uCode(2, 5*time.Minute, 5*time.Second), nil
		}
		h.updateDL(func(dl *authv1alpha1.DeviceLogin) {
			dl.Spec.Scopes = append(slices.Clone(uScopes), "groups")
			dl.Generation++
		})
		h.clock.Step(time.Second)
		h.mustReconcile()

		uCalls(t, h.flow, map[string]int{oauthtest.MethodRequestDeviceCode: 1})
		if !slices.Contains(req.Scopes, "groups") {
			t.Errorf("requested scopes %v", req.Scopes)
		}
		dl := h.dl()
		if dl.Status.UserCode != "WDJB-0002" || dl.Status.ObservedGeneration != 2 {
			t.Errorf("userCode %q observedGeneration %d", dl.Status.UserCode, dl.Status.ObservedGeneration)
		}
		uExpectReady(t, dl, metav1.ConditionTrue, ReasonReauthorizationRequired)
		if sec := h.mustSecret(uName); sec.ResourceVersion != tokenRV || string(sec.Data[KeyAccessToken]) != "ACCESS-TOKEN-1" {
			t.Error("the old token Secret was changed while the new grant is pending")
		}
		if len(h.eventsWith(EventUserCodeIssued)) != 1 {
			t.Errorf("events %q", h.allEvents())
		}
		// No refresh of the old grant while the new one is pending.
		h.stepTo(h.nextPollAt())
		h.mustReconcile()
		if h.flow.Calls(oauthtest.MethodRefresh) != 0 {
			t.Error("refreshed the old grant")
		}
	})

	t.Run("secretTemplate: no new code, Secret rewritten", func(t *testing.T) {
		h, _ := uAuthorized(t)
		h.updateDL(func(dl *authv1alpha1.DeviceLogin) {
			dl.Spec.SecretTemplate = &authv1alpha1.SecretTemplate{
				Labels: map[string]string{"team": "a"},
				Data:   map[string]string{"authorization": "{{ .TokenType }} {{ .AccessToken }}"},
			}
			dl.Generation++
		})
		h.clock.Step(time.Second)
		h.mustReconcile()

		uCalls(t, h.flow, nil)
		sec := h.mustSecret(uName)
		if string(sec.Data["authorization"]) != "Bearer ACCESS-TOKEN-1" || sec.Labels["team"] != "a" ||
			sec.Labels[authv1alpha1.DeviceLoginLabel] != uName {
			t.Errorf("token Secret data %q labels %v", sec.Data["authorization"], sec.Labels)
		}
		dl := h.dl()
		uExpectReady(t, dl, metav1.ConditionTrue, ReasonAuthorized)
		if dl.Status.ObservedGeneration != 2 || dl.Status.UserCode != "" {
			t.Errorf("observedGeneration %d userCode %q", dl.Status.ObservedGeneration, dl.Status.UserCode)
		}
		if tr := h.traceSnapshot(); !slices.Contains(tr, "Update Secret/"+uName) || slices.Contains(tr, "Update Secret/"+uStateName) {
			t.Errorf("writes = %v, want the token Secret updated and the state Secret left alone", tr)
		}
	})
}
