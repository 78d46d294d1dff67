package controllers

// Flow robustness (issue 10): a login never spins without a provider, catches up with a strict
// server after slow_down, backs off on a failed client-secret read, stores the tokens before the
// subject lookup, stops after a bounded number of unanswered codes, and warns only about a
// provider that failed. Harness: devicelogin_unit_test.go.

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth/oauthtest"
)

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

// uProviderFailed makes the provider Ready=False for its generation, as its controller does when
// discovery fails.
func uProviderFailed(p *authv1alpha1.OAuthProvider) {
	p.Status.Conditions[0].Status = metav1.ConditionFalse
	p.Status.Conditions[0].Reason = ReasonDiscoveryFailed
	p.Status.Conditions[0].Message = "discovery at https://idp.example.com failed: HTTP 500"
}

// Issue 10 item 3: a pending code whose provider is not usable wakes at the code's expiry (the
// provider's watch brings it back sooner), never every second, and asks the provider nothing.
func TestUnitFlowPendingCodeWaitsForProvider(t *testing.T) {
	for name, mutate := range map[string]func(*authv1alpha1.OAuthProvider){
		"Ready=False":            uProviderFailed,
		"no Ready condition yet": func(p *authv1alpha1.OAuthProvider) { p.Status.Conditions = nil },
	} {
		t.Run(name, func(t *testing.T) {
			h := newUHarness(t)
			h.mustReconcile()
			dl := h.dl()
			expires := dl.Status.UserCodeExpiresAt.Time
			h.updateProvider(mutate)
			h.resetCounts()
			h.stepTo(dl.Status.NextPollTime.Add(2 * time.Second)) // a poll would be due
			for range 5 {
				res := h.mustReconcile()
				if want := expires.Sub(h.clock.Now()); res.RequeueAfter != want {
					t.Errorf("RequeueAfter = %s, want %s (the code's expiry)", res.RequeueAfter, want)
				}
				h.clock.Step(time.Second)
			}
			uCalls(t, h.flow, nil)
			if got := h.dl().Status.UserCode; got != "WDJB-0001" {
				t.Errorf("userCode = %q: the pending code must wait for the provider", got)
			}
			if got := string(h.mustSecret(uStateName).Data[keyDeviceCode]); got != "DEVICE-CODE-1" {
				t.Errorf("state device_code = %q", got)
			}
			// Expiry without a provider: the code goes, still without asking the provider anything.
			h.stepTo(expires)
			h.mustReconcile()
			uCalls(t, h.flow, nil)
			if got := h.dl().Status.UserCode; got != "" {
				t.Errorf("userCode = %q after its expiry", got)
			}
		})
	}
}

// Issue 10 item 2: a strict server that enforces 5 s (and 5 s more after every slow_down) while
// the client believed 1 s. The client catches up within a few slow_downs, and the approved code
// yields its token.
func TestUnitFlowSlowDownCatchesUpWithStrictServer(t *testing.T) {
	h := newUHarness(t)
	h.flow.RequestDeviceCodeFn = func(context.Context, oauth.ClientConfig, oauth.DeviceRequest) (*oauth.DeviceAuthorization, error) {
		return uCode(1, 30*time.Minute, time.Second), nil
	}
	approvedAt := uStart.Add(2 * time.Minute)
	serverInterval, last := 5*time.Second, uStart
	slowDowns, polls := 0, 0
	h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) {
		now := h.clock.Now()
		polls++
		if now.Sub(last) < serverInterval {
			serverInterval += 5 * time.Second
			last = now
			slowDowns++
			return nil, uOAuthErr("slow_down")
		}
		last = now
		if now.Before(approvedAt) {
			return nil, uOAuthErr("authorization_pending")
		}
		return uToken(1, uLife), nil
	}
	h.mustReconcile()
	var clientInterval int32
	for i := 0; i < 60 && h.dl().Status.UserCode != ""; i++ {
		clientInterval = h.dl().Status.PollInterval
		h.stepTo(h.nextPollAt())
		h.mustReconcile()
	}
	t.Logf("MEASURE %d polls, %d slow_down, server interval %s, client interval %ds", polls, slowDowns, serverInterval, clientInterval)
	if slowDowns > 3 {
		t.Errorf("%d slow_down answers: the client never caught up with the server's interval", slowDowns)
	}
	if got := string(h.mustSecret(uStateName).Data[KeyAccessToken]); got != "ACCESS-TOKEN-1" {
		t.Fatalf("state access_token = %q: the approved code never yielded its token", got)
	}
	uExpectReady(t, h.dl(), metav1.ConditionTrue, ReasonAuthorized)
}

// uRefusingReader refuses some reads of the API reader.
type uRefusingReader struct {
	client.Reader
	refuse func(key client.ObjectKey, obj client.Object) error
}

func (r uRefusingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if err := r.refuse(key, obj); err != nil {
		return err
	}
	return r.Reader.Get(ctx, key, obj, opts...)
}

// Issue 10 item 7: an API error reading the client secret is returned (the reconcile backs off and
// keeps its pending code); a client secret that does not exist is the provider's problem.
func TestUnitFlowClientSecretReadError(t *testing.T) {
	const secretName = "idp-client"
	withSecret := func(exists bool) func(*uSetup) {
		return func(s *uSetup) {
			s.provider.Spec.ClientSecretRef = &authv1alpha1.SecretKeyRef{Name: secretName, Key: "client-secret"}
			if exists {
				s.objects = append(s.objects, &corev1.Secret{
					ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: uNS},
					Data:       map[string][]byte{"client-secret": []byte("CLIENT-SECRET")},
				})
			}
		}
	}
	refusing := false
	refuse := func(h *uHarness) {
		h.r.APIReader = uRefusingReader{Reader: h.r.APIReader, refuse: func(key client.ObjectKey, _ client.Object) error {
			if refusing && key.Name == secretName {
				return apierrors.NewServiceUnavailable("injected by the test")
			}
			return nil
		}}
	}

	t.Run("API error before the code", func(t *testing.T) {
		h := newUHarness(t, withSecret(true))
		refuse(h)
		refusing = true
		if _, err := h.reconcile(); err == nil {
			t.Error("Reconcile returned no error although the client secret could not be read")
		}
		uCalls(t, h.flow, nil)
		if c := uReady(t, h.dl()); c.Reason == ReasonProviderNotReady {
			t.Errorf("Ready = %s/%s (%q): an API hiccup is not the provider's problem", c.Status, c.Reason, c.Message)
		}
		refusing = false
		var secret string
		h.flow.RequestDeviceCodeFn = func(_ context.Context, cfg oauth.ClientConfig, _ oauth.DeviceRequest) (*oauth.DeviceAuthorization, error) {
			secret = cfg.ClientSecret
			return uCode(1, 5*time.Minute, 5*time.Second), nil
		}
		h.clock.Step(5 * time.Second)
		h.mustReconcile()
		if secret != "CLIENT-SECRET" || h.dl().Status.UserCode != "WDJB-0001" {
			t.Errorf("after the API server recovered: client secret sent %t, userCode %q", secret == "CLIENT-SECRET", h.dl().Status.UserCode)
		}
	})

	t.Run("API error while polling", func(t *testing.T) {
		h := newUHarness(t, withSecret(true))
		refuse(h)
		h.mustReconcile()
		refusing = true
		// Past the time a client secret is reused, so that the poll has to read it again.
		h.stepTo(h.dl().Status.NextPollTime.Add(clientSecretTTL))
		if _, err := h.reconcile(); err == nil {
			t.Error("Reconcile returned no error although the client secret could not be read")
		}
		uCalls(t, h.flow, map[string]int{oauthtest.MethodRequestDeviceCode: 1})
		dl := h.dl()
		uExpectReady(t, dl, metav1.ConditionFalse, ReasonAwaitingApproval)
		if dl.Status.UserCode != "WDJB-0001" || string(h.mustSecret(uStateName).Data[keyDeviceCode]) != "DEVICE-CODE-1" {
			t.Errorf("the pending code was lost: userCode %q", dl.Status.UserCode)
		}
		refusing = false
		h.clock.Step(5 * time.Second)
		h.mustReconcile()
		uCalls(t, h.flow, map[string]int{oauthtest.MethodRequestDeviceCode: 1, oauthtest.MethodPollToken: 1})
	})

	t.Run("not found", func(t *testing.T) {
		h := newUHarness(t, withSecret(false))
		h.mustReconcile()
		uCalls(t, h.flow, nil)
		c := uExpectReady(t, h.dl(), metav1.ConditionFalse, ReasonProviderNotReady)
		if !strings.Contains(c.Message, "client secret "+uNS+"/"+secretName+" not found") {
			t.Errorf("Ready message %q does not name the missing client secret", c.Message)
		}
		if ev := h.eventsWith(ReasonProviderNotReady); len(ev) != 1 {
			t.Errorf("ProviderNotReady events = %q, want one", h.allEvents())
		}
	})
}

// Issue 10 item 9: the tokens are in the state Secret before the subject lookup (a network call)
// starts, and a failed lookup loses nothing.
func TestUnitFlowStoresTokensBeforeSubject(t *testing.T) {
	h := newUHarness(t)
	h.mustReconcile()
	var storedAtSubject string
	h.flow.SubjectFn = func(context.Context, oauth.ClientConfig, *oauth.Token) (string, error) {
		h.note("Subject")
		if s := h.secret(uStateName); s != nil {
			storedAtSubject = string(s.Data[KeyRefreshToken])
		}
		return "", errors.New("userinfo: connection reset by peer")
	}
	h.flow.PollTokenFn = func(context.Context, oauth.ClientConfig, string) (*oauth.Token, error) { return uToken(1, uLife), nil }
	h.stepTo(h.dl().Status.NextPollTime.Time)
	h.resetCounts()
	h.mustReconcile()

	tr := h.traceSnapshot()
	iState, iSubject := slices.Index(tr, "Update Secret/"+uStateName), slices.Index(tr, "Subject")
	if iState < 0 || iSubject < 0 || iState > iSubject {
		t.Errorf("writes and calls = %v, want the state Secret written before Subject", tr)
	}
	if storedAtSubject != "REFRESH-TOKEN-1" {
		t.Errorf("state refresh_token at the subject lookup = %q, want REFRESH-TOKEN-1", storedAtSubject)
	}
	if got := string(h.mustSecret(uName).Data[KeyAccessToken]); got != "ACCESS-TOKEN-1" {
		t.Errorf("token Secret access_token = %q after a failed subject lookup", got)
	}
	dl := h.dl()
	uExpectReady(t, dl, metav1.ConditionTrue, ReasonAuthorized)
	if dl.Status.AuthorizedSubject != "" {
		t.Errorf("authorizedSubject = %q", dl.Status.AuthorizedSubject)
	}
	if ev := h.eventsWith(ReasonAuthorized); len(ev) != 1 || strings.Contains(ev[0], " by ") {
		t.Errorf("Authorized events = %q", h.allEvents())
	}
	h.assertNoSecretsLeaked()
}

// Issue 10 item 13: under Renew, an abandoned login stops after maxUnansweredCodes codes expired
// unapproved, says so, and the reauthorize annotation starts again.
func TestUnitFlowUnansweredCodesStop(t *testing.T) {
	h := newUHarness(t)
	h.mustReconcile()
	for i := 0; i < 2*maxUnansweredCodes && h.dl().Status.UserCodeExpiresAt != nil; i++ {
		h.stepTo(h.dl().Status.UserCodeExpiresAt.Time)
		h.mustReconcile()
	}
	uCalls(t, h.flow, map[string]int{oauthtest.MethodRequestDeviceCode: maxUnansweredCodes})
	dl := h.dl()
	if dl.Status.UnansweredCodes != maxUnansweredCodes || dl.Status.UserCode != "" {
		t.Errorf("unansweredCodes %d userCode %q", dl.Status.UnansweredCodes, dl.Status.UserCode)
	}
	c := uExpectReady(t, dl, metav1.ConditionFalse, ReasonCodeExpired)
	if !strings.Contains(c.Message, authv1alpha1.ReauthorizeAnnotation) {
		t.Errorf("Ready message %q does not say how to go on", c.Message)
	}
	ev := h.eventsWith(ReasonCodeExpired)
	if len(ev) != maxUnansweredCodes || !strings.Contains(ev[len(ev)-1], "10 unanswered codes in a row, so no new code is requested") {
		t.Errorf("CodeExpired events = %q", ev)
	}

	h.resetCounts()
	for range 3 {
		h.clock.Step(10 * time.Minute)
		h.mustReconcile()
	}
	uCalls(t, h.flow, nil)
	uExpectReady(t, h.dl(), metav1.ConditionFalse, ReasonCodeExpired)

	h.updateDL(func(dl *authv1alpha1.DeviceLogin) {
		dl.Annotations = map[string]string{authv1alpha1.ReauthorizeAnnotation: "again"}
	})
	h.mustReconcile()
	uCalls(t, h.flow, map[string]int{oauthtest.MethodRequestDeviceCode: 1})
	dl = h.dl()
	if dl.Status.UnansweredCodes != 0 || dl.Status.UserCode == "" {
		t.Errorf("after reauthorize: unansweredCodes %d userCode %q", dl.Status.UnansweredCodes, dl.Status.UserCode)
	}
	uExpectReady(t, dl, metav1.ConditionFalse, ReasonAwaitingApproval)
}

// Issue 10 item 16: a provider that is still being resolved is not worth a warning; one that
// failed for its generation is, once.
func TestUnitFlowProviderNotReadyEvent(t *testing.T) {
	h := newUHarness(t, func(s *uSetup) { s.provider.Status = authv1alpha1.OAuthProviderStatus{} })
	for range 2 {
		h.mustReconcile()
		h.clock.Step(time.Second)
	}
	c := uExpectReady(t, h.dl(), metav1.ConditionFalse, ReasonProviderNotReady)
	if !strings.Contains(c.Message, "not resolved yet") {
		t.Errorf("Ready message %q", c.Message)
	}
	if ev := h.eventsWith(ReasonProviderNotReady); len(ev) != 0 {
		t.Errorf("ProviderNotReady events while the provider is being resolved: %q", ev)
	}

	h.updateProvider(func(p *authv1alpha1.OAuthProvider) {
		p.Status = *uReadyProvider().Status.DeepCopy()
		uProviderFailed(p)
	})
	for range 2 {
		h.mustReconcile()
		h.clock.Step(time.Second)
	}
	ev := h.eventsWith(ReasonProviderNotReady)
	if len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning ProviderNotReady") || !strings.Contains(ev[0], "HTTP 500") {
		t.Errorf("ProviderNotReady events once the provider failed = %q, want one warning", ev)
	}
	uCalls(t, h.flow, nil)
}
