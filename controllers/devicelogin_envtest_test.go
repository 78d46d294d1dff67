package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/testidp"
	"github.com/devicelogin-dev/devicelogin-operator/test/e2e/framework"
)

// Every provider and client secret the specs use, for the leak scan at the end.
var (
	idpsMu        sync.Mutex
	idps          []*testidp.Server
	clientSecrets []string
)

// newIDP starts a strict test provider with a 1 s interval unless opts says otherwise.
func newIDP(opts testidp.Options) *testidp.Server {
	if opts.Interval == 0 {
		opts.Interval = time.Second
	}
	opts.OIDC = true
	s := testidp.New(opts)
	idpsMu.Lock()
	idps = append(idps, s)
	idpsMu.Unlock()
	return s
}

var nsCounter int

// newNamespace creates a namespace for one spec.
func newNamespace(ctx context.Context) string {
	nsCounter++
	name := fmt.Sprintf("dl-%d", nsCounter)
	Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})).To(Succeed())
	return name
}

// newProvider creates an OAuthProvider for idp in ns.
func newProvider(ctx context.Context, ns string, idp *testidp.Server) {
	p := &authv1alpha1.OAuthProvider{
		ObjectMeta: metav1.ObjectMeta{Name: "idp", Namespace: ns},
		Spec: authv1alpha1.OAuthProviderSpec{
			IssuerURL: idp.URL(), ClientID: "test-client", AllowInsecureHTTP: true,
		},
	}
	Expect(k8s.Create(ctx, p)).To(Succeed())
}

// newLogin creates a DeviceLogin using the OAuthProvider "idp".
func newLogin(ctx context.Context, ns, name string, mutate ...func(*authv1alpha1.DeviceLogin)) *authv1alpha1.DeviceLogin {
	dl := &authv1alpha1.DeviceLogin{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: authv1alpha1.DeviceLoginSpec{
			ProviderRef: authv1alpha1.ProviderReference{Name: "idp"},
			Scopes:      []string{"openid", "email", "offline_access"},
		},
	}
	for _, m := range mutate {
		m(dl)
	}
	Expect(k8s.Create(ctx, dl)).To(Succeed())
	return dl
}

func getLogin(ctx context.Context, dl *authv1alpha1.DeviceLogin) *authv1alpha1.DeviceLogin {
	out := &authv1alpha1.DeviceLogin{}
	ExpectWithOffset(1, k8s.Get(ctx, client.ObjectKeyFromObject(dl), out)).To(Succeed())
	return out
}

// readyReason returns the Ready condition's status and reason.
func readyReason(ctx context.Context, dl *authv1alpha1.DeviceLogin) string {
	c := meta.FindStatusCondition(getLogin(ctx, dl).Status.Conditions, ConditionReady)
	if c == nil {
		return ""
	}
	return string(c.Status) + "/" + c.Reason
}

// waitForCode waits for a published user code and returns it.
func waitForCode(ctx context.Context, dl *authv1alpha1.DeviceLogin) string {
	var code string
	EventuallyWithOffset(1, func(g Gomega) {
		st := getLogin(ctx, dl).Status
		g.Expect(st.UserCode).NotTo(BeEmpty())
		code = st.UserCode
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
	return code
}

// eventReasons lists the reasons of the events about dl, oldest first.
func eventReasons(ctx context.Context, dl *authv1alpha1.DeviceLogin) []string {
	var list corev1.EventList
	ExpectWithOffset(1, k8s.List(ctx, &list, client.InNamespace(dl.Namespace))).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if e.InvolvedObject.Name == dl.Name && e.InvolvedObject.Kind == "DeviceLogin" {
			out = append(out, e.Reason)
		}
	}
	return out
}

// eventCount is how many times an event with that reason happened to dl: the events API merges
// repeats into one object with a count, so counting objects proves nothing (framework.Occurrences).
func eventCount(ctx context.Context, dl *authv1alpha1.DeviceLogin, reason string) int {
	evs, err := framework.EventsFor(ctx, k8s, dl.Namespace, "DeviceLogin", dl.Name)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return framework.Occurrences(evs, reason)
}

// eventNotes lists the messages of the events with that reason about dl.
func eventNotes(ctx context.Context, dl *authv1alpha1.DeviceLogin, reason string) []string {
	var list corev1.EventList
	ExpectWithOffset(1, k8s.List(ctx, &list, client.InNamespace(dl.Namespace))).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if e.InvolvedObject.Name == dl.Name && e.Reason == reason {
			out = append(out, e.Message)
		}
	}
	return out
}

func tokenSecret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	return s, k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, s)
}

func annotate(ctx context.Context, dl *authv1alpha1.DeviceLogin, key, value string) {
	cur := getLogin(ctx, dl)
	patch := client.MergeFrom(cur.DeepCopy())
	if cur.Annotations == nil {
		cur.Annotations = map[string]string{}
	}
	cur.Annotations[key] = value
	ExpectWithOffset(1, k8s.Patch(ctx, cur, patch)).To(Succeed())
}

var _ = Describe("DeviceLogin", Ordered, func() {
	ctx := context.Background()

	It("publishes a code, and after approval writes the token Secret and reports who approved", func() {
		ns := newNamespace(ctx)
		idp := newIDP(testidp.Options{})
		newProvider(ctx, ns, idp)
		dl := newLogin(ctx, ns, "ci-bot", func(d *authv1alpha1.DeviceLogin) {
			d.Spec.SecretName = "ci-bot-token"
			d.Spec.SecretTemplate = &authv1alpha1.SecretTemplate{
				Labels: map[string]string{"team": "a"},
				Data:   map[string]string{"authorization": "Bearer {{ .AccessToken }}"},
			}
		})
		code := waitForCode(ctx, dl)
		st := getLogin(ctx, dl).Status
		Expect(readyReason(ctx, dl)).To(Equal("False/AwaitingApproval"))
		ready := meta.FindStatusCondition(st.Conditions, ConditionReady)
		Expect(ready.Message).To(Equal(fmt.Sprintf("Visit %s and enter code %s (expires %s)",
			idp.VerificationURL(), code, st.UserCodeExpiresAt.UTC().Format(time.RFC3339))))
		Expect(st.VerificationURIComplete).To(ContainSubstring(code))
		Expect(st.PollInterval).To(BeEquivalentTo(1))
		Eventually(func() []string { return eventNotes(ctx, dl, EventUserCodeIssued) }).Should(ContainElement(
			SatisfyAll(ContainSubstring(code), ContainSubstring(idp.VerificationURL()), ContainSubstring("OAuthProvider idp"),
				ContainSubstring("openid email offline_access"))))

		issued := time.Now()
		time.Sleep(2500 * time.Millisecond) // let a few polls come back authorization_pending
		Expect(idp.Approve(code, "alice@example.com")).To(Succeed())
		approvedAt := time.Now()
		Eventually(func() string { return readyReason(ctx, dl) }, 10*time.Second, 50*time.Millisecond).Should(Equal("True/Authorized"))
		latency := time.Since(approvedAt)

		sec, err := tokenSecret(ctx, ns, "ci-bot-token")
		Expect(err).NotTo(HaveOccurred())
		Expect(sec.Labels).To(HaveKeyWithValue(authv1alpha1.DeviceLoginLabel, "ci-bot"))
		Expect(sec.Labels).To(HaveKeyWithValue("team", "a"))
		Expect(sec.Type).To(Equal(corev1.SecretTypeOpaque))
		Expect(metav1.IsControlledBy(sec, getLogin(ctx, dl))).To(BeTrue())
		Expect(sec.Data).To(HaveKey(KeyAccessToken))
		Expect(sec.Data).To(HaveKeyWithValue(KeyTokenType, []byte("Bearer")))
		Expect(sec.Data).To(HaveKey(KeyExpiry))
		Expect(sec.Data).To(HaveKeyWithValue(KeyScope, []byte("openid email offline_access")))
		Expect(sec.Data).To(HaveKey(KeyIDToken))
		Expect(sec.Data).NotTo(HaveKey(KeyRefreshToken))
		Expect(string(sec.Data["authorization"])).To(Equal("Bearer " + string(sec.Data[KeyAccessToken])))
		Expect(idp.IsAccessTokenValid(string(sec.Data[KeyAccessToken]))).To(BeTrue())

		st = getLogin(ctx, dl).Status
		Expect(st.AuthorizedSubject).To(Equal("alice@example.com"))
		Expect(st.GrantedScopes).To(Equal([]string{"openid", "email", "offline_access"}))
		Expect(st.UserCode).To(BeEmpty())
		Expect(st.TokenExpiresAt).NotTo(BeNil())
		Expect(st.NextRefreshTime.Time).To(BeTemporally("<", st.TokenExpiresAt.Time))
		Expect(st.SecretName).To(Equal("ci-bot-token"))
		Eventually(func() []string { return eventReasons(ctx, dl) }).Should(ContainElement(ReasonAuthorized))
		Expect(idp.SlowDowns()).To(BeZero(), "the controller never polls earlier than the interval")

		// Polls per approval, against the minimum the 1 s interval allows.
		minimum := int(approvedAt.Sub(issued)/time.Second) + 1
		AddReportEntry("polls per approval", fmt.Sprintf("%d polls over %.1fs pending (interval 1s, minimum %d); approval-to-Secret %s",
			idp.Polls(), approvedAt.Sub(issued).Seconds(), minimum, latency.Round(time.Millisecond)))
		GinkgoWriter.Printf("MEASURE polls=%d minimum=%d pending=%.1fs approval-to-secret=%s\n", idp.Polls(), minimum,
			approvedAt.Sub(issued).Seconds(), latency.Round(time.Millisecond))
		Expect(idp.Polls()).To(BeNumerically("<=", minimum+1))

		By("writing nothing in a steady state")
		before := getLogin(ctx, dl)
		beforeSecret, _ := tokenSecret(ctx, ns, "ci-bot-token")
		annotate(ctx, dl, "example.com/touch", "1") // wakes the controller without changing anything it owns
		Consistently(func(g Gomega) {
			now := getLogin(ctx, dl)
			g.Expect(now.Status).To(Equal(before.Status))
			s, _ := tokenSecret(ctx, ns, "ci-bot-token")
			g.Expect(s.ResourceVersion).To(Equal(beforeSecret.ResourceVersion))
		}, 3*time.Second, 200*time.Millisecond).Should(Succeed())

		By("restoring a deleted token Secret without a new approval")
		devices := idp.Count(testidp.EndpointDevice)
		Expect(k8s.Delete(ctx, beforeSecret)).To(Succeed())
		Eventually(func(g Gomega) {
			s, err := tokenSecret(ctx, ns, "ci-bot-token")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(s.Data[KeyAccessToken]).To(Equal(beforeSecret.Data[KeyAccessToken]))
		}, 10*time.Second).Should(Succeed())

		By("restoring a hand-edited token Secret")
		s, _ := tokenSecret(ctx, ns, "ci-bot-token")
		s.Data[KeyAccessToken] = []byte("tampered")
		delete(s.Labels, authv1alpha1.DeviceLoginLabel)
		Expect(k8s.Update(ctx, s)).To(Succeed())
		Eventually(func(g Gomega) {
			s, err := tokenSecret(ctx, ns, "ci-bot-token")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(s.Data[KeyAccessToken]).To(Equal(beforeSecret.Data[KeyAccessToken]))
			g.Expect(s.Labels).To(HaveKeyWithValue(authv1alpha1.DeviceLoginLabel, "ci-bot"))
		}, 10*time.Second).Should(Succeed())
		Expect(idp.Count(testidp.EndpointDevice)).To(Equal(devices))
	})

	It("raises the poll interval by 5 s on slow_down and keeps it", func() {
		ns := newNamespace(ctx)
		idp := newIDP(testidp.Options{})
		newProvider(ctx, ns, idp)
		Expect(idp.Server.ForceSlowDown(testidp.AnyCode, 1)).To(Succeed())
		dl := newLogin(ctx, ns, "slow")
		waitForCode(ctx, dl)
		Eventually(func() int32 { return getLogin(ctx, dl).Status.PollInterval }, 10*time.Second).Should(BeEquivalentTo(6))
		polls := idp.Polls()
		Consistently(func() int { return idp.Polls() }, 4*time.Second, 200*time.Millisecond).Should(Equal(polls),
			"no poll earlier than the raised interval")
		Expect(idp.SlowDowns()).To(Equal(1))
		Expect(idp.Approve(getLogin(ctx, dl).Status.UserCode, "bob@example.com")).To(Succeed())
		Eventually(func() string { return readyReason(ctx, dl) }, 15*time.Second).Should(Equal("True/Authorized"))
		Expect(idp.SlowDowns()).To(Equal(1))
	})

	It("renews an expired code with codeExpiryPolicy Renew", func() {
		ns := newNamespace(ctx)
		idp := newIDP(testidp.Options{CodeLifetime: 3 * time.Second})
		newProvider(ctx, ns, idp)
		dl := newLogin(ctx, ns, "renew")
		first := waitForCode(ctx, dl)
		Eventually(func() string { return getLogin(ctx, dl).Status.UserCode }, 10*time.Second, 100*time.Millisecond).
			ShouldNot(Or(Equal(first), BeEmpty()))
		Eventually(func() []string { return eventReasons(ctx, dl) }).Should(ContainElement(ReasonCodeExpired))
		Eventually(func() int { return eventCount(ctx, dl, EventUserCodeIssued) }).Should(BeNumerically(">=", 2), "a code, then a fresh one")
		Expect(readyReason(ctx, dl)).To(Equal("False/AwaitingApproval"))
	})

	It("stops on an expired code with codeExpiryPolicy Stop until the reauthorize annotation", func() {
		ns := newNamespace(ctx)
		idp := newIDP(testidp.Options{CodeLifetime: 3 * time.Second})
		newProvider(ctx, ns, idp)
		dl := newLogin(ctx, ns, "stop", func(d *authv1alpha1.DeviceLogin) { d.Spec.CodeExpiryPolicy = authv1alpha1.CodeExpiryStop })
		waitForCode(ctx, dl)
		Eventually(func() string { return readyReason(ctx, dl) }, 10*time.Second).Should(Equal("False/CodeExpired"))
		Expect(getLogin(ctx, dl).Status.UserCode).To(BeEmpty())
		Consistently(func() int { return idp.Count(testidp.EndpointDevice) }, 3*time.Second).Should(Equal(1))
		annotate(ctx, dl, authv1alpha1.ReauthorizeAnnotation, "1")
		waitForCode(ctx, dl)
		Expect(idp.Count(testidp.EndpointDevice)).To(Equal(2))
		Expect(readyReason(ctx, dl)).To(Equal("False/AwaitingApproval"))
	})

	It("stops polling after access_denied", func() {
		ns := newNamespace(ctx)
		idp := newIDP(testidp.Options{})
		newProvider(ctx, ns, idp)
		dl := newLogin(ctx, ns, "denied")
		Expect(idp.Deny(waitForCode(ctx, dl))).To(Succeed())
		Eventually(func() string { return readyReason(ctx, dl) }, 10*time.Second).Should(Equal("False/AccessDenied"))
		Eventually(func() []string { return eventReasons(ctx, dl) }).Should(ContainElement(ReasonAccessDenied))
		polls := idp.Polls()
		Consistently(func() int { return idp.Polls() }, 3*time.Second).Should(Equal(polls))
		Expect(idp.Count(testidp.EndpointDevice)).To(Equal(1))
	})

	It("refreshes before expiry and keeps the rotated refresh token", func() {
		ns := newNamespace(ctx)
		idp := newIDP(testidp.Options{TokenLifetime: 6 * time.Second})
		newProvider(ctx, ns, idp)
		dl := newLogin(ctx, ns, "rotate", func(d *authv1alpha1.DeviceLogin) { d.Spec.IncludeRefreshToken = true })
		Expect(idp.Approve(waitForCode(ctx, dl), "carol@example.com")).To(Succeed())
		Eventually(func() string { return readyReason(ctx, dl) }, 10*time.Second).Should(Equal("True/Authorized"))
		first, _ := tokenSecret(ctx, ns, "rotate")
		firstRT := string(first.Data[KeyRefreshToken])
		Expect(firstRT).NotTo(BeEmpty())
		Eventually(func() *metav1.Time { return getLogin(ctx, dl).Status.LastRefreshTime }, 10*time.Second).ShouldNot(BeNil())
		Eventually(func(g Gomega) {
			s, _ := tokenSecret(ctx, ns, "rotate")
			g.Expect(s.Data[KeyAccessToken]).NotTo(Equal(first.Data[KeyAccessToken]))
			g.Expect(idp.IsAccessTokenValid(string(s.Data[KeyAccessToken]))).To(BeTrue())
			g.Expect(idp.IsRefreshTokenValid(string(s.Data[KeyRefreshToken]))).To(BeTrue())
		}, 10*time.Second).Should(Succeed())
		Expect(idp.IsRefreshTokenValid(firstRT)).To(BeFalse(), "the provider rotated it")
		Eventually(func() []string { return eventReasons(ctx, dl) }).Should(ContainElement(EventTokenRefreshed))
		Expect(readyReason(ctx, dl)).To(Equal("True/Authorized"))
		Expect(meta.IsStatusConditionTrue(getLogin(ctx, dl).Status.Conditions, ConditionTokenRefreshed)).To(BeTrue())
	})

	It("asks for a new code when the refresh token is refused, and keeps serving the current token", func() {
		ns := newNamespace(ctx)
		idp := newIDP(testidp.Options{})
		newProvider(ctx, ns, idp)
		dl := newLogin(ctx, ns, "regrant")
		Expect(idp.Approve(waitForCode(ctx, dl), "dave@example.com")).To(Succeed())
		Eventually(func() string { return readyReason(ctx, dl) }, 10*time.Second).Should(Equal("True/Authorized"))
		served, _ := tokenSecret(ctx, ns, "regrant")
		idp.RevokeRefreshTokens()
		annotate(ctx, dl, authv1alpha1.RefreshAnnotation, "now")
		Eventually(func() string { return readyReason(ctx, dl) }, 10*time.Second).Should(Equal("True/ReauthorizationRequired"))
		second := waitForCode(ctx, dl)
		Eventually(func() []string { return eventReasons(ctx, dl) }).Should(ContainElement(ReasonReauthorizationRequired))
		s, _ := tokenSecret(ctx, ns, "regrant")
		Expect(s.Data[KeyAccessToken]).To(Equal(served.Data[KeyAccessToken]), "the current token is still served")
		Expect(idp.Approve(second, "dave@example.com")).To(Succeed())
		Eventually(func() string { return readyReason(ctx, dl) }, 10*time.Second).Should(Equal("True/Authorized"))
		s, _ = tokenSecret(ctx, ns, "regrant")
		Expect(s.Data[KeyAccessToken]).NotTo(Equal(served.Data[KeyAccessToken]))
	})

	It("resumes after a manager restart with the same code, no early poll, and completes", func() {
		ns := newNamespace(ctx)
		idp := newIDP(testidp.Options{Interval: 2 * time.Second})
		newProvider(ctx, ns, idp)
		dl := newLogin(ctx, ns, "restart")
		code := waitForCode(ctx, dl)
		Eventually(func() int { return idp.Polls() }, 10*time.Second).Should(BeNumerically(">=", 1))
		stopManager()
		startManager()
		Consistently(func() string { return getLogin(ctx, dl).Status.UserCode }, 4*time.Second, 200*time.Millisecond).Should(Equal(code))
		Expect(idp.Count(testidp.EndpointDevice)).To(Equal(1), "no new code while the old one is valid")
		Expect(idp.Approve(code, "erin@example.com")).To(Succeed())
		Eventually(func() string { return readyReason(ctx, dl) }, 10*time.Second).Should(Equal("True/Authorized"))
		Expect(idp.SlowDowns()).To(BeZero(), "no poll came earlier than the interval across the restart")
	})

	It("never overwrites a Secret it does not own", func() {
		ns := newNamespace(ctx)
		idp := newIDP(testidp.Options{})
		newProvider(ctx, ns, idp)
		foreign := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "taken", Namespace: ns}, StringData: map[string]string{"k": "v"}}
		Expect(k8s.Create(ctx, foreign)).To(Succeed())
		dl := newLogin(ctx, ns, "conflict", func(d *authv1alpha1.DeviceLogin) { d.Spec.SecretName = "taken" })
		By("refusing before any user code is requested, so that nobody approves a token that cannot be delivered")
		Eventually(func() string { return readyReason(ctx, dl) }, 10*time.Second).Should(Equal("False/SecretConflict"))
		Eventually(func() []string { return eventReasons(ctx, dl) }).Should(ContainElement(ReasonSecretConflict))
		Consistently(func() int { return idp.Count(testidp.EndpointDevice) }, 2*time.Second).Should(BeZero())
		Expect(getLogin(ctx, dl).Status.UserCode).To(BeEmpty())
		s, _ := tokenSecret(ctx, ns, "taken")
		Expect(s.Data).To(Equal(map[string][]byte{"k": []byte("v")}))
		Expect(s.OwnerReferences).To(BeEmpty())

		By("starting the flow and writing the Secret once the name is free")
		Expect(k8s.Delete(ctx, s)).To(Succeed())
		annotate(ctx, dl, "example.com/nudge", "1")
		Expect(idp.Approve(waitForCode(ctx, dl), "frank@example.com")).To(Succeed())
		Eventually(func() string { return readyReason(ctx, dl) }, 10*time.Second).Should(Equal("True/Authorized"))
	})

	It("enforces a ClusterOAuthProvider's allowedNamespaces and reads its client secret from the cluster-resource namespace", func() {
		allowed, other := newNamespace(ctx), newNamespace(ctx)
		idp := newIDP(testidp.Options{ClientSecret: "s3cr3t-client-value"})
		clientSecrets = append(clientSecrets, "s3cr3t-client-value")
		Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "idp-client", Namespace: clusterNS},
			StringData: map[string]string{"secret": "s3cr3t-client-value"}})).To(Succeed())
		Expect(k8s.Create(ctx, &authv1alpha1.ClusterOAuthProvider{
			ObjectMeta: metav1.ObjectMeta{Name: "confidential"},
			Spec: authv1alpha1.OAuthProviderSpec{
				IssuerURL: idp.URL(), ClientID: "test-client", AllowInsecureHTTP: true,
				ClientSecretRef:   &authv1alpha1.SecretKeyRef{Name: "idp-client", Key: "secret"},
				AllowedNamespaces: []string{allowed},
			},
		})).To(Succeed())
		ref := func(d *authv1alpha1.DeviceLogin) {
			d.Spec.ProviderRef = authv1alpha1.ProviderReference{Kind: authv1alpha1.ClusterOAuthProviderKind, Name: "confidential"}
		}
		ok := newLogin(ctx, allowed, "ok", ref)
		refused := newLogin(ctx, other, "refused", ref)
		Expect(idp.Approve(waitForCode(ctx, ok), "gina@example.com")).To(Succeed())
		Eventually(func() string { return readyReason(ctx, ok) }, 10*time.Second).Should(Equal("True/Authorized"))
		Eventually(func() string { return readyReason(ctx, refused) }, 10*time.Second).Should(Equal("False/ProviderNotReady"))
		Expect(meta.FindStatusCondition(getLogin(ctx, refused).Status.Conditions, ConditionReady).Message).
			To(ContainSubstring("does not allow namespace " + other))
		Expect(idp.Count(testidp.EndpointDevice)).To(Equal(1))
		for _, r := range idp.Requests() {
			if r.Endpoint == testidp.EndpointToken || r.Endpoint == testidp.EndpointDevice {
				Expect(r.ClientAuth).To(Equal("basic"))
			}
		}
	})
})
