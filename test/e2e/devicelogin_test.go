package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/test/e2e/framework"
)

// The DeviceLogins of the suite.
const (
	mainLogin     = "ci-bot"       // approved at once, then refreshed
	restartLogin  = "restart-bot"  // pending while the manager is killed
	expiringLogin = "expiring-bot" // on the Dex with 20-second codes
)

// veryVerbose matches zap's JSON level of V(8) and above: "level":"Level(-8)".
var veryVerbose = regexp.MustCompile(`"level":"Level\(-([89]|[1-9]\d+)\)"`)

// compact sorts and de-duplicates.
func compact(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

func getLogin(ctx context.Context, name string) *authv1alpha1.DeviceLogin {
	GinkgoHelper()
	dl := &authv1alpha1.DeviceLogin{}
	Expect(k8s.Get(ctx, types.NamespacedName{Namespace: testNS, Name: name}, dl)).To(Succeed())
	return dl
}

// readyText is the Ready condition in one line, for failure messages.
func readyText(dl *authv1alpha1.DeviceLogin) string {
	c := framework.ReadyCondition(dl)
	if c == nil {
		return "no Ready condition"
	}
	return fmt.Sprintf("Ready=%s %s: %s", c.Status, c.Reason, c.Message)
}

// waitForCode waits until the DeviceLogin publishes a user code other than the ones in not.
func waitForCode(ctx context.Context, name string, timeout time.Duration, not ...string) *authv1alpha1.DeviceLogin {
	GinkgoHelper()
	var dl *authv1alpha1.DeviceLogin
	Eventually(func(g Gomega) {
		dl = &authv1alpha1.DeviceLogin{}
		g.Expect(k8s.Get(ctx, types.NamespacedName{Namespace: testNS, Name: name}, dl)).To(Succeed())
		g.Expect(dl.Status.UserCode).NotTo(BeEmpty(), "DeviceLogin %s has no user code (%s)", name, readyText(dl))
		g.Expect(not).NotTo(ContainElement(dl.Status.UserCode), "DeviceLogin %s still shows an old user code (%s)", name, readyText(dl))
		g.Expect(dl.Status.VerificationURI).NotTo(BeEmpty())
	}, timeout, 200*time.Millisecond).Should(Succeed())
	return dl
}

func events(ctx context.Context, name, reason string) []corev1.Event {
	GinkgoHelper()
	all, err := framework.EventsFor(ctx, k8s, testNS, "DeviceLogin", name)
	Expect(err).NotTo(HaveOccurred())
	return framework.EventsWithReason(all, reason)
}

// occurrences is how many times events with that reason happened to the DeviceLogin name (the
// events API merges repeats into one object with a count: framework.Occurrences).
func occurrences(ctx context.Context, name, reason string) int {
	GinkgoHelper()
	all, err := framework.EventsFor(ctx, k8s, testNS, "DeviceLogin", name)
	Expect(err).NotTo(HaveOccurred())
	return framework.Occurrences(all, reason)
}

func eventMessages(evs []corev1.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Message)
	}
	return out
}

func stateSecret(ctx context.Context, name string) *corev1.Secret {
	GinkgoHelper()
	s := &corev1.Secret{}
	Expect(k8s.Get(ctx, types.NamespacedName{Namespace: testNS, Name: name + framework.StateSecretSuffix}, s)).To(Succeed())
	seen.record(s)
	return s
}

// waitForTokenSecret polls the API server every 50 ms until the token Secret exists.
func waitForTokenSecret(ctx context.Context, name string, timeout time.Duration) *corev1.Secret {
	GinkgoHelper()
	secret := &corev1.Secret{}
	Eventually(func() error {
		return k8s.Get(ctx, types.NamespacedName{Namespace: testNS, Name: name}, secret)
	}, timeout, 50*time.Millisecond).Should(Succeed(), func() string {
		return fmt.Sprintf("no token Secret %s (%s)", name, readyText(getLogin(ctx, name)))
	})
	seen.record(secret)
	return secret
}

// approveFresh approves the DeviceLogin's current code at Dex, waiting for a code that has at
// least minLeft to live, and retrying once when Dex has renewed the code in between.
func approveFresh(ctx context.Context, name string, minLeft time.Duration) *authv1alpha1.DeviceLogin {
	GinkgoHelper()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		var dl *authv1alpha1.DeviceLogin
		Eventually(func(g Gomega) {
			dl = &authv1alpha1.DeviceLogin{}
			g.Expect(k8s.Get(ctx, types.NamespacedName{Namespace: testNS, Name: name}, dl)).To(Succeed())
			g.Expect(dl.Status.UserCode).NotTo(BeEmpty())
			g.Expect(dl.Status.UserCodeExpiresAt).NotTo(BeNil())
			g.Expect(time.Until(dl.Status.UserCodeExpiresAt.Time)).To(BeNumerically(">", minLeft))
		}, 2*shortCodeLifetime+30*time.Second, 200*time.Millisecond).Should(Succeed())
		if lastErr = framework.ApproveDex(ctx, dl.Status.VerificationURI, dl.Status.UserCode, framework.DexLogin, framework.DexPassword); lastErr == nil {
			return dl
		}
		fmt.Fprintf(GinkgoWriter, "approving %s's code %s failed (%v); trying the next code\n", name, dl.Status.UserCode, lastErr)
	}
	Fail(fmt.Sprintf("could not approve a code of %s: %v", name, lastErr))
	return nil
}

var _ = Describe("The manager binary", func() {
	It("runs with --leader-elect, as the Deployment does", func() {
		Expect(mgr.LeaderElectionProblem).To(BeEmpty())
	})

	It("runs as a user that has only the roles of config/rbac", func() {
		ctx := context.Background()
		can := func(verb, group, resource, namespace string) bool {
			GinkgoHelper()
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User:               framework.ManagerUser,
				Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + framework.OperatorNamespace, "system:authenticated"},
				ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Group: group, Resource: resource, Namespace: namespace},
			}}
			Expect(k8s.Create(ctx, sar)).To(Succeed())
			return sar.Status.Allowed
		}
		Expect(can("patch", "auth.devicelogin.dev", "devicelogins/status", testNS)).To(BeTrue())
		Expect(can("create", "", "secrets", testNS)).To(BeTrue())
		Expect(can("create", "events.k8s.io", "events", testNS)).To(BeTrue())
		Expect(can("update", "auth.devicelogin.dev", "clusteroauthproviders", "")).To(BeFalse())
		Expect(can("create", "coordination.k8s.io", "leases", framework.OperatorNamespace)).To(BeTrue())
		Expect(can("create", "coordination.k8s.io", "leases", testNS)).To(BeFalse())
		Expect(can("create", "", "pods", testNS)).To(BeFalse())
		Expect(can("delete", "auth.devicelogin.dev", "devicelogins", testNS)).To(BeFalse())
	})
})

var _ = Describe("A DeviceLogin against Dex", Ordered, ContinueOnFailure, func() {
	ctx := context.Background()
	var (
		issued            *authv1alpha1.DeviceLogin // ci-bot when its code was issued
		expiringFirstCode string
		// In memory only, never printed: the grant approved first, to check the refresh.
		approvedAccess, approvedRefresh string
		approvedExpiry                  time.Time
	)

	BeforeAll(func() {
		Expect(k8s.Create(ctx, framework.NewDeviceLogin(testNS, mainLogin, dexProvider))).To(Succeed())
		// Created now so that its 20-second code runs out while the other specs run.
		Expect(k8s.Create(ctx, framework.NewDeviceLogin(testNS, expiringLogin, shortCodesProvider))).To(Succeed())
		expiringFirstCode = waitForCode(ctx, expiringLogin, 30*time.Second).Status.UserCode
		stateSecret(ctx, expiringLogin)
	})

	It("publishes the user code and the verification URL in status and in a UserCodeIssued event", func() {
		issued = waitForCode(ctx, mainLogin, 30*time.Second)
		code, uri := issued.Status.UserCode, issued.Status.VerificationURI
		Expect(uri).To(HavePrefix(dex.Issuer + "/"))
		Expect(issued.Status.UserCodeExpiresAt).NotTo(BeNil())
		ready := framework.ReadyCondition(issued)
		Expect(ready).NotTo(BeNil())
		Expect(ready.Status).To(Equal(metav1.ConditionFalse))
		Expect(ready.Reason).To(Equal("AwaitingApproval"))
		Expect(ready.Message).To(And(ContainSubstring(code), ContainSubstring(uri)))
		Eventually(func() []string { return eventMessages(events(ctx, mainLogin, "UserCodeIssued")) }, 10*time.Second, 200*time.Millisecond).
			Should(ContainElement(And(ContainSubstring(code), ContainSubstring(uri))))
		state := stateSecret(ctx, mainLogin)
		Expect(state.Data["device_code"]).NotTo(BeEmpty(), "the state Secret holds the device code")
	})

	It("shows them in `kubectl describe devicelogin`, in status and in Events", func() {
		if issued == nil {
			Skip("no user code was issued")
		}
		out, err := framework.Kubectl(ctx, cp.KubeconfigPath, "describe", "devicelogin", mainLogin, "-n", testNS)
		if errors.Is(err, framework.ErrNoKubectl) {
			if os.Getenv("CI") != "" {
				Fail("kubectl is not on PATH, and CI must run this check")
			}
			Skip("kubectl is not on PATH")
		}
		describeErr := err
		if err != nil {
			// Check what describe shows through the fully qualified resource, then fail on the
			// command that admins type.
			out, err = framework.Kubectl(ctx, cp.KubeconfigPath, "describe", "devicelogins.auth.devicelogin.dev", mainLogin, "-n", testNS)
			Expect(err).NotTo(HaveOccurred())
		}
		fmt.Fprintf(GinkgoWriter, "kubectl describe devicelogin %s -n %s:\n%s\n", mainLogin, testNS, out)
		status, evs, ok := strings.Cut(out, "\nEvents:")
		Expect(ok).To(BeTrue(), "kubectl describe shows an Events section")
		Expect(status).To(And(ContainSubstring(issued.Status.UserCode), ContainSubstring(issued.Status.VerificationURI)))
		Expect(evs).To(And(ContainSubstring("UserCodeIssued"), ContainSubstring(issued.Status.UserCode), ContainSubstring(issued.Status.VerificationURI)))
		if describeErr != nil && strings.Contains(describeErr.Error(), "only one resource") {
			Fail(fmt.Sprintf("%v\n`kubectl describe devicelogins.auth.devicelogin.dev %s` works: kubectl expands the "+
				"category \"devicelogin\" (+kubebuilder:resource:categories) before the singular resource name, and the "+
				"category names three resources", describeErr, mainLogin))
		}
		Expect(describeErr).NotTo(HaveOccurred())
	})

	It("writes the token Secret once the code is approved at Dex, with a token that Dex accepts", func() {
		if issued == nil {
			Skip("no user code was issued")
		}
		Expect(framework.ApproveDex(ctx, issued.Status.VerificationURI, issued.Status.UserCode, framework.DexLogin, framework.DexPassword)).To(Succeed())
		approvedAt := time.Now()
		secret := waitForTokenSecret(ctx, mainLogin, 60*time.Second)
		deliveredAt := time.Now()
		latency := deliveredAt.Sub(approvedAt)
		AddReportEntry("approval-to-Secret latency", latency.Round(time.Millisecond).String())
		fmt.Fprintf(GinkgoWriter, "Approval to token Secret: %s (the operator polls every %d s)\n", latency.Round(time.Millisecond), issued.Status.PollInterval)
		expectFirstPollAfter(ctx, issued, approvedAt, deliveredAt)

		approvedAccess = string(secret.Data["access_token"])
		Expect(approvedAccess).NotTo(BeEmpty(), "the token Secret has an access token")
		state := stateSecret(ctx, mainLogin)
		approvedRefresh = string(state.Data["refresh_token"])
		Expect(approvedRefresh).NotTo(BeEmpty(), "the state Secret keeps the refresh token (scope offline_access)")
		//nolint:ginkgolinter // Equal would print both tokens into the test log on failure.
		Expect(string(state.Data["access_token"]) == approvedAccess).To(BeTrue(), "the state and token Secrets hold the same grant")

		status, claims, err := dex.Userinfo(ctx, approvedAccess)
		Expect(err).NotTo(HaveOccurred())
		Expect(status).To(Equal(200), "Dex's userinfo accepts the access token")
		Expect(claims).To(HaveKeyWithValue("email", framework.DexLogin))

		var dl *authv1alpha1.DeviceLogin
		Eventually(func(g Gomega) {
			dl = getLogin(ctx, mainLogin)
			ready := framework.ReadyCondition(dl)
			g.Expect(ready).NotTo(BeNil())
			g.Expect(ready.Status).To(Equal(metav1.ConditionTrue), readyText(dl))
			g.Expect(ready.Reason).To(Equal("Authorized"))
			g.Expect(dl.Status.TokenExpiresAt).NotTo(BeNil())
		}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
		approvedExpiry = dl.Status.TokenExpiresAt.Time
		Expect(dl.Status.AuthorizedSubject).To(ContainSubstring(framework.DexLogin))
		Expect(dl.Status.AuthorizedAt).NotTo(BeNil())
		Expect(dl.Status.SecretName).To(Equal(mainLogin))
		Eventually(func() []string { return eventMessages(events(ctx, mainLogin, "Authorized")) }, 10*time.Second, 200*time.Millisecond).
			Should(ContainElement(ContainSubstring(framework.DexLogin)))

		Expect(secret.Labels).To(HaveKeyWithValue(authv1alpha1.DeviceLoginLabel, mainLogin))
		Expect(metav1.IsControlledBy(secret, dl)).To(BeTrue(), "the token Secret is controlled by the DeviceLogin")
		Expect(strings.EqualFold(string(secret.Data["token_type"]), "bearer")).To(BeTrue(), "token_type is Bearer")
		keys := framework.SecretKeys(secret)
		Expect(keys).NotTo(ContainElement("refresh_token"), "the refresh token stays out of the workload's Secret")
		Expect(keys).To(ContainElements("access_token", "token_type", "expiry", "scope", "id_token"))
	})

	It("refreshes before the access token expires, and Dex then refuses the replaced refresh token", func() {
		if approvedRefresh == "" {
			Skip("no approved grant to refresh")
		}
		var dl *authv1alpha1.DeviceLogin
		Eventually(func(g Gomega) {
			dl = getLogin(ctx, mainLogin)
			g.Expect(dl.Status.LastRefreshTime).NotTo(BeNil(), "no refresh yet (%s; next refresh %v)", readyText(dl), dl.Status.NextRefreshTime)
		}, time.Until(approvedExpiry)+30*time.Second, 200*time.Millisecond).Should(Succeed())
		refreshedAt := dl.Status.LastRefreshTime.Time
		fmt.Fprintf(GinkgoWriter, "Refreshed at %s, %s before the first access token expired\n", refreshedAt.UTC().Format(time.RFC3339), approvedExpiry.Sub(refreshedAt))
		Expect(refreshedAt.Before(approvedExpiry)).To(BeTrue(), "refreshed at %s, the token expired at %s", refreshedAt, approvedExpiry)
		Eventually(func() []corev1.Event { return events(ctx, mainLogin, "TokenRefreshed") }, 10*time.Second, 200*time.Millisecond).ShouldNot(BeEmpty())
		Expect(dl.Status.NextRefreshTime).NotTo(BeNil())

		secret := waitForTokenSecret(ctx, mainLogin, 10*time.Second)
		newAccess := string(secret.Data["access_token"])
		//nolint:ginkgolinter // Equal would print the token into the test log on failure.
		Expect(newAccess != approvedAccess).To(BeTrue(), "the token Secret holds the new access token")
		status, _, err := dex.Userinfo(ctx, newAccess)
		Expect(err).NotTo(HaveOccurred())
		Expect(status).To(Equal(200), "Dex's userinfo accepts the refreshed access token")
		newRefresh := string(stateSecret(ctx, mainLogin).Data["refresh_token"])
		Expect(newRefresh != "" && newRefresh != approvedRefresh).To(BeTrue(), "Dex rotated the refresh token and the operator kept the new one")

		// Past Dex's reuse interval (1 s), the replaced refresh token must be refused.
		time.Sleep(time.Until(refreshedAt.Add(3 * time.Second)))
		err = dex.Refresh(ctx, approvedRefresh)
		var tokenErr *framework.TokenError
		Expect(errors.As(err, &tokenErr)).To(BeTrue(), "Dex refuses the replaced refresh token (got %v)", err)
		fmt.Fprintf(GinkgoWriter, "Dex refused the replaced refresh token: %s\n", tokenErr)
		Expect(tokenErr.StatusCode).To(Equal(400))
	})

	It("keeps a pending user code when the manager is killed with SIGKILL, and the approval still completes", func() {
		Expect(k8s.Create(ctx, framework.NewDeviceLogin(testNS, restartLogin, dexProvider))).To(Succeed())
		before := waitForCode(ctx, restartLogin, 30*time.Second)
		Eventually(func() int { return len(stateSecret(ctx, restartLogin).Data["device_code"]) }, 10*time.Second, 200*time.Millisecond).
			Should(BeNumerically(">", 0), "the device code is persisted before the kill")
		leaders := mgr.LeaderAcquisitions()

		Expect(mgr.Kill()).To(Succeed())
		restartedAt := time.Now()
		Expect(mgr.Start()).To(Succeed())
		if mgr.LeaderElectionProblem == "" {
			// The killed manager never released its lease: the new one waits for it to expire.
			Eventually(mgr.LeaderAcquisitions, 60*time.Second, 200*time.Millisecond).Should(BeNumerically(">", leaders))
			fmt.Fprintf(GinkgoWriter, "The restarted manager became leader after %s\n", time.Since(restartedAt).Round(time.Second))
		}
		// Polls are booked in memory, not in status: give the restarted manager two poll
		// intervals (it waits one full interval before its first poll of a code it did not issue).
		time.Sleep(2 * time.Duration(max(before.Status.PollInterval, 5)) * time.Second)
		after := getLogin(ctx, restartLogin)
		Expect(after.Status.UserCode).To(Equal(before.Status.UserCode), "the restarted manager keeps the pending user code (%s)", readyText(after))
		Expect(after.Status.PollInterval).To(Equal(before.Status.PollInterval), "no early poll after the restart (Dex answers one with slow_down)")

		Expect(framework.ApproveDex(ctx, before.Status.VerificationURI, before.Status.UserCode, framework.DexLogin, framework.DexPassword)).To(Succeed())
		waitForTokenSecret(ctx, restartLogin, 60*time.Second)
		Expect(occurrences(ctx, restartLogin, "UserCodeIssued")).To(Equal(1), "one code, one UserCodeIssued event, across the restart")
	})

	It("ends a code nobody approves in CodeExpired and, with codeExpiryPolicy Renew, issues a fresh one that works", func() {
		Expect(expiringFirstCode).NotTo(BeEmpty())
		Eventually(func() []corev1.Event { return events(ctx, expiringLogin, "CodeExpired") }, shortCodeLifetime+60*time.Second, 200*time.Millisecond).
			ShouldNot(BeEmpty(), "a CodeExpired event after the %s code lifetime", shortCodeLifetime)
		renewed := waitForCode(ctx, expiringLogin, 60*time.Second, expiringFirstCode)
		fmt.Fprintf(GinkgoWriter, "The expired code was replaced by a fresh one (%s)\n", readyText(renewed))
		Expect(occurrences(ctx, expiringLogin, "UserCodeIssued")).To(BeNumerically(">=", 2), "the expired code, then the fresh one")
		stateSecret(ctx, expiringLogin)

		approveFresh(ctx, expiringLogin, 8*time.Second)
		waitForTokenSecret(ctx, expiringLogin, 60*time.Second)
	})

	It("never writes a token, a refresh token, an ID token or a device code to the manager's log", func() {
		for _, name := range []string{mainLogin, restartLogin, expiringLogin} {
			stateSecret(ctx, name)
		}
		Expect(seen.count("/access_token")).To(BeNumerically(">=", 4), "access tokens seen: three approvals and a refresh")
		Expect(seen.count("/device_code")).To(BeNumerically(">=", 3), "device codes seen")
		Expect(seen.count("/refresh_token")).To(BeNumerically(">=", 2), "refresh tokens seen")
		Expect(seen.count("/id_token")).To(BeNumerically(">=", 2), "ID tokens seen")
		log, err := mgr.Log()
		Expect(err).NotTo(HaveOccurred())
		Expect(log).To(ContainSubstring(mainLogin), "the manager logs at the highest verbosity")
		Expect(log).NotTo(ContainSubstring("is forbidden"), "config/rbac gives the manager every permission it uses")
		// Lines at V(8) and above are client-go's dumps of API request and response bodies.
		var low, high strings.Builder
		for _, line := range strings.SplitAfter(log, "\n") {
			if veryVerbose.MatchString(line) {
				high.WriteString(line)
			} else {
				low.WriteString(line)
			}
		}
		leakedLow, checked := seen.leaks(low.String())
		leakedHigh, _ := seen.leaks(high.String())
		fmt.Fprintf(GinkgoWriter, "Searched %s (%d bytes, %d of them at V(8) and above) for %d secret values\n",
			mgr.LogPath, len(log), high.Len(), checked)
		Expect(compact(leakedLow)).To(BeEmpty(), "values of these Secret keys appear in %s below V(8)", mgr.LogPath)
		Expect(compact(leakedHigh)).To(BeEmpty(), "values of these Secret keys appear in %s at V(8) and above, where "+
			"client-go logs the bodies of API requests and responses (the operator's Secret writes among them) through "+
			"the logger in the reconcile context; the suite runs the manager with --zap-log-level=10", mgr.LogPath)
	})
})
