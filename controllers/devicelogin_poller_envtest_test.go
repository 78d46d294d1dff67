package controllers

import (
	"context"
	"slices"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
	"github.com/devicelogin-dev/devicelogin-operator/internal/testidp"
)

// holdScope marks the DeviceLogins whose device authorization request holdingFlow keeps waiting.
const holdScope = "hold-the-worker"

// holdingFlow keeps every device authorization request for holdScope waiting until release is
// closed: each such DeviceLogin holds one of the manager's queue workers.
type holdingFlow struct {
	oauth.DeviceFlow
	release  chan struct{}
	held     atomic.Int32
	returned atomic.Int32
}

func (h *holdingFlow) RequestDeviceCode(ctx context.Context, cfg oauth.ClientConfig, r oauth.DeviceRequest) (*oauth.DeviceAuthorization, error) {
	if slices.Contains(r.Scopes, holdScope) {
		h.held.Add(1)
		select {
		case <-h.release:
		case <-ctx.Done():
		}
		defer h.returned.Add(1)
	}
	return h.DeviceFlow.RequestDeviceCode(ctx, cfg, r)
}

var _ = Describe("Due polls", Ordered, func() {
	ctx := context.Background()

	It("polls an approved code on time while every worker of the work queue is busy", func() {
		stopManager()
		DeferCleanup(startManager)
		flow := &holdingFlow{release: make(chan struct{}),
			DeviceFlow: &oauth.Client{HTTP: oauth.NewHTTPClient(oauth.HTTPOptions{Timeout: 2 * time.Second})}}
		m := startManagerWith(nil, flow)
		released := false
		release := func() {
			if !released {
				released = true
				close(flow.release)
			}
		}
		DeferCleanup(func() { release(); m.stop() })

		idp := newIDP(testidp.Options{Interval: 2 * time.Second})
		ns := newNamespace(ctx)
		newProvider(ctx, ns, idp)
		dl := newLogin(ctx, ns, "waiting")
		code := waitForCode(ctx, dl)

		By("filling each of the queue's 4 workers with a reconcile that waits on the provider")
		for _, name := range []string{"hold-1", "hold-2", "hold-3", "hold-4"} {
			newLogin(ctx, ns, name, func(d *authv1alpha1.DeviceLogin) { d.Spec.Scopes = []string{holdScope} })
		}
		Eventually(flow.held.Load, 20*time.Second).Should(BeEquivalentTo(4))

		By("approving the waiting code: its next poll is due within one interval")
		Expect(idp.Approve(code, "hana@example.com")).To(Succeed())
		// Two intervals and slack: a poll that waited for a free worker would wait until release.
		Eventually(func() string { return readyReason(ctx, dl) }, 8*time.Second, 100*time.Millisecond).
			Should(Equal("True/Authorized"))
		Expect(flow.returned.Load()).To(BeZero(), "the workers were still busy when the token came")
		Expect(getLogin(ctx, dl).Status.SecretName).To(Equal(dl.TokenSecretName()))
		release()
	})
})
