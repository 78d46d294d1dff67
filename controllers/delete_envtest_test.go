package controllers

// Deletion with revokeOnDelete against a real API server: both tokens revoked, and a deletion held
// while the provider cannot revoke, for at most the grace of devicelogin_delete.go.

import (
	"context"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/testidp"
)

var _ = Describe("Deletion with revokeOnDelete", func() {
	ctx := context.Background()

	It("revokes the refresh and the access token on delete with revokeOnDelete", func() {
		ns := newNamespace(ctx)
		idp := newIDP(testidp.Options{})
		newProvider(ctx, ns, idp)
		dl := authorizedForRevocation(ctx, ns, idp, "revoke", "ken@example.com")
		access, refresh := grantOf(idp)
		Expect(k8s.Delete(ctx, dl)).To(Succeed())
		Eventually(func() bool { return loginGone(ctx, dl) }, 10*time.Second).Should(BeTrue())
		expectRevoked(idp, access, refresh)
		expectOnce(ctx, dl, EventRevoked)
	})

	It("holds a deletion while the provider is down, and revokes once it is back", func() {
		ns := newNamespace(ctx)
		idp := newIDP(testidp.Options{})
		newProvider(ctx, ns, idp)
		dl := authorizedForRevocation(ctx, ns, idp, "revoke-later", "lena@example.com")
		access, refresh := grantOf(idp)
		idp.SetFault(testidp.EndpointAll, testidp.FaultDown)
		Expect(k8s.Delete(ctx, dl)).To(Succeed())
		expectDeletionHeld(ctx, dl, 8*time.Second)
		Expect(retryLogged(ns)).To(BeTrue(), "the manager logs the failed revocation and its retry")
		Expect(idp.Revoked()).To(BeEmpty())

		idp.SetFault(testidp.EndpointAll, testidp.FaultNone)
		Eventually(func() bool { return loginGone(ctx, dl) }, 15*time.Second, 250*time.Millisecond).Should(BeTrue())
		expectRevoked(idp, access, refresh)
		expectOnce(ctx, dl, EventRevoked)
		Expect(eventCount(ctx, dl, EventRevocationFailed)).To(BeZero())
	})

	It("holds a deletion while revocation fails, and never more than about 30 s", func() {
		ns := newNamespace(ctx)
		idp := newIDP(testidp.Options{})
		newProvider(ctx, ns, idp)
		dl := authorizedForRevocation(ctx, ns, idp, "revoke-down", "lena@example.com")
		idp.SetFault(testidp.EndpointAll, testidp.FaultDown)
		start := time.Now()
		Expect(k8s.Delete(ctx, dl)).To(Succeed())
		// The grace is 30 s from the deletion timestamp, which has whole seconds: held for 20 s
		// leaves room for that and for a slow machine.
		expectDeletionHeld(ctx, dl, 20*time.Second)
		Expect(retryLogged(ns)).To(BeTrue(), "the manager logs the failed revocation and its retry")
		Eventually(func() bool { return loginGone(ctx, dl) }, 25*time.Second, 500*time.Millisecond).Should(BeTrue())
		took := time.Since(start)
		Expect(took).To(BeNumerically("<", 40*time.Second))
		expectOnce(ctx, dl, EventRevocationFailed) // it says that the tokens were not revoked
		Expect(eventCount(ctx, dl, EventRevoked)).To(BeZero())
		GinkgoWriter.Printf("MEASURE deletion with the provider down took %s\n", took.Round(time.Second))
	})
})

// expectOnce checks that the event with reason happens, and only once: a reconcile from a cache
// that still shows the finalizer must not revoke, or give up, a second time.
func expectOnce(ctx context.Context, dl *authv1alpha1.DeviceLogin, reason string) {
	GinkgoHelper()
	Eventually(func() int { return eventCount(ctx, dl, reason) }).Should(Equal(1))
	Consistently(func() int { return eventCount(ctx, dl, reason) }, 2*time.Second, 200*time.Millisecond).Should(Equal(1))
}

// authorizedForRevocation creates a DeviceLogin with revokeOnDelete in ns, has idp approve it and
// waits until it is authorized and holds the finalizer.
func authorizedForRevocation(ctx context.Context, ns string, idp *testidp.Server, name, user string) *authv1alpha1.DeviceLogin {
	GinkgoHelper()
	dl := newLogin(ctx, ns, name, func(d *authv1alpha1.DeviceLogin) { d.Spec.RevokeOnDelete = true })
	Expect(idp.Approve(waitForCode(ctx, dl), user)).To(Succeed())
	Eventually(func() string { return readyReason(ctx, dl) }, 10*time.Second).Should(Equal("True/Authorized"))
	Expect(getLogin(ctx, dl).Finalizers).To(ContainElement(RevokeFinalizer))
	return dl
}

// grantOf returns the one access token and the one refresh token idp issued.
func grantOf(idp *testidp.Server) (access, refresh string) {
	GinkgoHelper()
	Expect(idp.AccessTokens()).To(HaveLen(1))
	Expect(idp.RefreshTokens()).To(HaveLen(1))
	return idp.AccessTokens()[0], idp.RefreshTokens()[0]
}

// expectRevoked checks that both tokens were sent for revocation and the provider no longer
// accepts them. Matchers that would print the values on failure are avoided.
func expectRevoked(idp *testidp.Server, access, refresh string) {
	GinkgoHelper()
	Expect(slices.Contains(idp.Revoked(), refresh)).To(BeTrue(), "the refresh token was revoked")
	Expect(slices.Contains(idp.Revoked(), access)).To(BeTrue(), "the access token was revoked")
	Expect(idp.IsRefreshTokenValid(refresh)).To(BeFalse())
	Expect(idp.IsAccessTokenValid(access)).To(BeFalse())
}

// loginGone says whether the DeviceLogin no longer exists.
func loginGone(ctx context.Context, dl *authv1alpha1.DeviceLogin) bool {
	return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(dl), &authv1alpha1.DeviceLogin{}))
}

// expectDeletionHeld checks that the deleted DeviceLogin stays for d, marked for deletion and
// held by the revoke finalizer.
func expectDeletionHeld(ctx context.Context, dl *authv1alpha1.DeviceLogin, d time.Duration) {
	GinkgoHelper()
	Consistently(func(g Gomega) {
		cur := &authv1alpha1.DeviceLogin{}
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(dl), cur)).To(Succeed(), "the deletion was not held")
		g.Expect(cur.DeletionTimestamp).NotTo(BeNil())
		g.Expect(cur.Finalizers).To(ContainElement(RevokeFinalizer))
	}, d, 250*time.Millisecond).Should(Succeed())
}

// retryLogged says whether the manager logged a failed revocation that it will retry, for a
// DeviceLogin in namespace ns. Retries make no event (the outcome does, once): the log is where
// the product says so.
func retryLogged(ns string) bool {
	for _, line := range strings.Split(mgrLogs.String(), "\n") {
		if strings.Contains(line, "Revocation failed, will retry") && strings.Contains(line, `"`+ns+`"`) {
			return true
		}
	}
	return false
}
