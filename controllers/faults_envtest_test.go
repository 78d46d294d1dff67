package controllers

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/oauth"
	"github.com/devicelogin-dev/devicelogin-operator/internal/testidp"
)

// countingFlow counts the requests a manager makes to the provider at prefix. A manager serves
// every DeviceLogin in the cluster, earlier specs' among them, so requests elsewhere do not count.
type countingFlow struct {
	oauth.DeviceFlow
	prefix string
	n      atomic.Int64
}

func (c *countingFlow) count(cfg oauth.ClientConfig) {
	if strings.HasPrefix(cfg.Endpoints.TokenURL, c.prefix) {
		c.n.Add(1)
	}
}

func (c *countingFlow) RequestDeviceCode(ctx context.Context, cfg oauth.ClientConfig, r oauth.DeviceRequest) (*oauth.DeviceAuthorization, error) {
	c.count(cfg)
	return c.DeviceFlow.RequestDeviceCode(ctx, cfg, r)
}

func (c *countingFlow) PollToken(ctx context.Context, cfg oauth.ClientConfig, dc string) (*oauth.Token, error) {
	c.count(cfg)
	return c.DeviceFlow.PollToken(ctx, cfg, dc)
}

func (c *countingFlow) Refresh(ctx context.Context, cfg oauth.ClientConfig, rt string) (*oauth.Token, error) {
	c.count(cfg)
	return c.DeviceFlow.Refresh(ctx, cfg, rt)
}

func (c *countingFlow) Revoke(ctx context.Context, cfg oauth.ClientConfig, tok, hint string) error {
	c.count(cfg)
	return c.DeviceFlow.Revoke(ctx, cfg, tok, hint)
}

// readyCondition returns the DeviceLogin's Ready condition (never nil).
func readyCondition(ctx context.Context, dl *authv1alpha1.DeviceLogin) metav1.Condition {
	if c := meta.FindStatusCondition(getLogin(ctx, dl).Status.Conditions, ConditionReady); c != nil {
		return *c
	}
	return metav1.Condition{}
}

var _ = Describe("Faults", Ordered, func() {
	ctx := context.Background()

	It("lets only the leader of two managers talk to the provider, and the other take over", func() {
		stopManager()
		DeferCleanup(startManager)
		idp := newIDP(testidp.Options{})
		var flows [2]*countingFlow
		var managers [2]*runningManager
		for i := range managers {
			flows[i] = &countingFlow{prefix: idp.URL(), DeviceFlow: &oauth.Client{HTTP: oauth.NewHTTPClient(oauth.HTTPOptions{Timeout: 2 * time.Second})}}
			managers[i] = startManagerWith(func(o *ctrl.Options) {
				o.LeaderElection = true
				o.LeaderElectionID = "devicelogin-suite"
				o.LeaderElectionNamespace = clusterNS
				o.LeaseDuration = ptr.To(4 * time.Second)
				o.RenewDeadline = ptr.To(3 * time.Second)
				o.RetryPeriod = ptr.To(500 * time.Millisecond)
			}, flows[i])
		}
		DeferCleanup(func() {
			for _, m := range managers {
				if m != nil {
					m.stop()
				}
			}
		})
		ns := newNamespace(ctx)
		newProvider(ctx, ns, idp)
		dl := newLogin(ctx, ns, "leader")
		Expect(idp.Approve(waitForCode(ctx, dl), "hana@example.com")).To(Succeed())
		Eventually(func() string { return readyReason(ctx, dl) }, 20*time.Second).Should(Equal("True/Authorized"))
		leader, follower := 0, 1
		if flows[1].n.Load() > 0 {
			leader, follower = 1, 0
		}
		Expect(flows[leader].n.Load()).To(BeNumerically(">=", 2), "device code and at least one poll")
		Expect(flows[follower].n.Load()).To(BeZero(), "the follower sent nothing to the provider")
		Expect(int64(idp.Count(testidp.EndpointDevice) + idp.Polls())).To(Equal(flows[leader].n.Load()))
		GinkgoWriter.Printf("MEASURE leader election: leader sent %d requests, follower %d\n", flows[leader].n.Load(), flows[follower].n.Load())

		By("handing over to the other manager when the leader stops")
		managers[leader].stop()
		managers[leader] = nil
		annotate(ctx, dl, authv1alpha1.ReauthorizeAnnotation, "handover")
		Eventually(func() int64 { return flows[follower].n.Load() }, 20*time.Second).Should(BeNumerically(">", 0))
		waitForCode(ctx, dl)
	})

	It("backs off while the provider is down with a code pending, and resumes by itself", func() {
		ns := newNamespace(ctx)
		idp := newIDP(testidp.Options{})
		newProvider(ctx, ns, idp)
		dl := newLogin(ctx, ns, "outage-poll")
		code := waitForCode(ctx, dl)
		idp.SetFault(testidp.EndpointAll, testidp.FaultDown)
		before := len(idp.Requests())
		Eventually(func() int32 { return getLogin(ctx, dl).Status.ConsecutiveFailures }, 10*time.Second).Should(BeNumerically(">=", 1))
		c := readyCondition(ctx, dl)
		Expect(c.Reason).To(Equal(ReasonAwaitingApproval))
		Expect(c.Message).To(ContainSubstring("token request(s) failed; retrying at"))
		Eventually(func() []string { return eventReasons(ctx, dl) }).Should(ContainElement(ReasonProviderError))
		time.Sleep(8 * time.Second)
		during := len(idp.Requests()) - before
		Expect(during).To(BeNumerically("<=", 3), "backoff: 5s, then 10s")
		// Backoff 5 s after the first failure: a second one came within the 8 s, so an event per
		// failure would show as two occurrences.
		Expect(getLogin(ctx, dl).Status.ConsecutiveFailures).To(BeNumerically(">=", 2))
		Expect(eventCount(ctx, dl, ReasonProviderError)).To(Equal(1), "one event per run of failures")
		GinkgoWriter.Printf("MEASURE outage while pending: %d requests in ~9s of outage\n", during)

		idp.SetFault(testidp.EndpointAll, testidp.FaultNone)
		Expect(idp.Approve(code, "ivan@example.com")).To(Succeed())
		Eventually(func() string { return readyReason(ctx, dl) }, 30*time.Second).Should(Equal("True/Authorized"))
		Expect(getLogin(ctx, dl).Status.ConsecutiveFailures).To(BeZero())
	})

	It("keeps serving the token while refreshes fail, and refreshes when the provider is back", func() {
		ns := newNamespace(ctx)
		idp := newIDP(testidp.Options{TokenLifetime: time.Hour})
		newProvider(ctx, ns, idp)
		dl := newLogin(ctx, ns, "outage-refresh")
		Expect(idp.Approve(waitForCode(ctx, dl), "judy@example.com")).To(Succeed())
		Eventually(func() string { return readyReason(ctx, dl) }, 10*time.Second).Should(Equal("True/Authorized"))
		served, _ := tokenSecret(ctx, ns, "outage-refresh")

		idp.SetFault(testidp.EndpointToken, testidp.Fault500)
		annotate(ctx, dl, authv1alpha1.RefreshAnnotation, "1")
		Eventually(func() bool {
			return meta.IsStatusConditionFalse(getLogin(ctx, dl).Status.Conditions, ConditionTokenRefreshed)
		}, 10*time.Second).Should(BeTrue())
		Expect(readyReason(ctx, dl)).To(Equal("True/Authorized"), "the current token is still valid")
		Eventually(func() []string { return eventReasons(ctx, dl) }).Should(ContainElement(EventRefreshFailed))
		s, _ := tokenSecret(ctx, ns, "outage-refresh")
		Expect(s.Data).To(Equal(served.Data), "nothing already stored is lost")

		idp.SetFault(testidp.EndpointToken, testidp.FaultNone)
		Eventually(func() bool {
			return meta.IsStatusConditionTrue(getLogin(ctx, dl).Status.Conditions, ConditionTokenRefreshed)
		}, 20*time.Second).Should(BeTrue())
		s, _ = tokenSecret(ctx, ns, "outage-refresh")
		Expect(s.Data[KeyAccessToken]).NotTo(Equal(served.Data[KeyAccessToken]))
	})

	It("keeps the last good Secret when secretTemplate stops rendering, and says why", func() {
		ns := newNamespace(ctx)
		idp := newIDP(testidp.Options{})
		newProvider(ctx, ns, idp)
		dl := newLogin(ctx, ns, "template", func(d *authv1alpha1.DeviceLogin) {
			d.Spec.SecretTemplate = &authv1alpha1.SecretTemplate{Data: map[string]string{"auth": "Bearer {{ .AccessToken }}"}}
		})
		Expect(idp.Approve(waitForCode(ctx, dl), "mia@example.com")).To(Succeed())
		Eventually(func() string { return readyReason(ctx, dl) }, 10*time.Second).Should(Equal("True/Authorized"))
		good, _ := tokenSecret(ctx, ns, "template")

		cur := getLogin(ctx, dl)
		cur.Spec.SecretTemplate.Data["auth"] = "Bearer {{ b64dec .TokenType }}" // "Bearer" is no base64
		cur.Spec.SecretTemplate.Data["extra"] = "x"
		Expect(k8s.Update(ctx, cur)).To(Succeed())
		Eventually(func() string { return readyReason(ctx, dl) }, 10*time.Second).Should(Equal("False/InvalidSpec"))
		Expect(readyCondition(ctx, dl).Message).To(ContainSubstring("secretTemplate.data[auth] does not render"))
		Eventually(func() []string { return eventReasons(ctx, dl) }).Should(ContainElement(ReasonInvalidSpec))
		s, _ := tokenSecret(ctx, ns, "template")
		Expect(s.Data).To(Equal(good.Data))
		Expect(idp.Count(testidp.EndpointDevice)).To(Equal(1), "no new approval")

		cur = getLogin(ctx, dl)
		cur.Spec.SecretTemplate.Data["auth"] = "Token {{ .AccessToken }}"
		Expect(k8s.Update(ctx, cur)).To(Succeed())
		Eventually(func() string { return readyReason(ctx, dl) }, 10*time.Second).Should(Equal("True/Authorized"))
		s, _ = tokenSecret(ctx, ns, "template")
		Expect(string(s.Data["auth"])).To(Equal("Token " + string(good.Data[KeyAccessToken])))
		Expect(string(s.Data["extra"])).To(Equal("x"))
	})
})

// expectManagerServes checks that the suite's manager survived: its Start has not returned, and
// it still reconciles (a fresh DeviceLogin on a healthy provider gets its user code).
func expectManagerServes(ctx context.Context) {
	GinkgoHelper()
	Expect(mainManager.done).NotTo(BeClosed(), "the manager stopped")
	ns := newNamespace(ctx)
	newProvider(ctx, ns, newIDP(testidp.Options{}))
	dl := newLogin(ctx, ns, "alive")
	waitForCode(ctx, dl)
	Expect(k8s.Delete(ctx, dl)).To(Succeed()) // no more polls from it
}

// hostile is a provider that misbehaves in one way: device answers device authorization
// requests, token answers token requests (authorization_pending when nil).
type hostile struct {
	device, token http.HandlerFunc
}

func jsonHandler(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

const okDevice = `{"device_code":"hostile-device-code-1","user_code":"HOST-ILE1","verification_uri":"http://127.0.0.1/device","expires_in":600,"interval":1}`

var _ = Describe("A hostile provider", func() {
	ctx := context.Background()

	DescribeTable("ends in a clear condition and event, without a hot loop",
		func(h hostile, wantReason string, wantInMessage string, check func(authv1alpha1.DeviceLoginStatus)) {
			var hits atomic.Int64
			other := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, _ *http.Request) {
				hits.Add(1000) // a request here would be a followed cross-host redirect
			}))
			defer other.Close()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				handler := h.token
				if strings.HasSuffix(r.URL.Path, "/device") {
					handler = h.device
				}
				if handler == nil {
					handler = jsonHandler(400, `{"error":"authorization_pending"}`)
				}
				handler(w, r.WithContext(context.WithValue(r.Context(), otherKey{}, other.URL)))
			}))
			defer srv.Close()
			ns := newNamespace(ctx)
			Expect(k8s.Create(ctx, &authv1alpha1.OAuthProvider{
				ObjectMeta: metav1.ObjectMeta{Name: "idp", Namespace: ns},
				Spec: authv1alpha1.OAuthProviderSpec{
					DeviceAuthorizationURL: srv.URL + "/device", TokenURL: srv.URL + "/token",
					ClientID: "c", AllowInsecureHTTP: true,
				},
			})).To(Succeed())
			dl := newLogin(ctx, ns, "hostile")
			// ProviderNotReady also reads "not resolved yet" for a moment at the start: wait for
			// the message too.
			Eventually(func(g Gomega) {
				c := readyCondition(ctx, dl)
				g.Expect(c.Reason).To(Equal(wantReason))
				g.Expect(c.Message).To(ContainSubstring(wantInMessage))
			}, 15*time.Second, 100*time.Millisecond).Should(Succeed())
			if wantReason != ReasonAwaitingApproval {
				Eventually(func() []string { return eventReasons(ctx, dl) }).Should(ContainElement(ReasonProviderError))
			}
			if check != nil {
				check(getLogin(ctx, dl).Status)
			}
			seen := hits.Load()
			Consistently(hits.Load, 3*time.Second, 250*time.Millisecond).Should(BeNumerically("<=", seen+3),
				"no hot loop")
			Expect(hits.Load()).To(BeNumerically("<", 1000), "no cross-host redirect was followed")
			expectManagerServes(ctx)
		},
		Entry("HTML with HTTP 200", hostile{device: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<html><body>Sign in</body></html>")
		}}, ReasonProviderNotReady, "Requesting a user code from OAuthProvider idp failed 1 time(s)", nil),
		Entry("a 10 MiB body", hostile{device: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			chunk := strings.Repeat("x", 64<<10)
			for i := 0; i < 160; i++ {
				if _, err := fmt.Fprint(w, chunk); err != nil {
					return
				}
			}
		}}, ReasonProviderNotReady, "failed", nil),
		Entry("a server that trickles bytes", hostile{device: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			for i := 0; i < 100; i++ {
				if _, err := fmt.Fprint(w, " "); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(300 * time.Millisecond):
				}
			}
		}}, ReasonProviderNotReady, "failed", nil),
		Entry("nothing at all (connection closed)", hostile{device: func(w http.ResponseWriter, _ *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}}, ReasonProviderNotReady, "failed", nil),
		Entry("a redirect to another host", hostile{device: func(w http.ResponseWriter, r *http.Request) {
			target := strings.Replace(r.Context().Value(otherKey{}).(string), "127.0.0.1", "localhost", 1)
			http.Redirect(w, r, target+"/device", http.StatusTemporaryRedirect)
		}}, ReasonProviderError, "refused the device authorization request", nil),
		Entry("invalid JSON", hostile{device: jsonHandler(200, `{"device_code": "abc", "user_code": `)},
			ReasonProviderNotReady, "failed", nil),
		Entry("HTTP 500", hostile{device: jsonHandler(500, `{"error":"server_error"}`)},
			ReasonProviderNotReady, "failed", nil),
		Entry("an empty device_code", hostile{device: jsonHandler(200, `{"device_code":"","user_code":"ABCD-EFGH","verification_uri":"http://127.0.0.1/d","expires_in":600}`)},
			ReasonProviderError, "no device_code", nil),
		Entry("an empty user_code", hostile{device: jsonHandler(200, `{"device_code":"abc","user_code":"","verification_uri":"http://127.0.0.1/d","expires_in":600}`)},
			ReasonProviderError, "no user_code", nil),
		Entry("interval 0", hostile{device: jsonHandler(200, strings.Replace(okDevice, `"interval":1`, `"interval":0`, 1))},
			ReasonAwaitingApproval, "HOST-ILE1", func(st authv1alpha1.DeviceLoginStatus) { Expect(st.PollInterval).To(BeEquivalentTo(5)) }),
		Entry("a negative interval", hostile{device: jsonHandler(200, strings.Replace(okDevice, `"interval":1`, `"interval":-5`, 1))},
			ReasonAwaitingApproval, "HOST-ILE1", func(st authv1alpha1.DeviceLoginStatus) { Expect(st.PollInterval).To(BeNumerically(">=", 1)) }),
		Entry("an interval of a year", hostile{device: jsonHandler(200, strings.Replace(okDevice, `"interval":1`, `"interval":31536000`, 1))},
			ReasonAwaitingApproval, "HOST-ILE1", func(st authv1alpha1.DeviceLoginStatus) { Expect(st.PollInterval).To(BeNumerically("<=", 600)) }),
		Entry("expires_in 0", hostile{device: jsonHandler(200, strings.Replace(okDevice, `"expires_in":600`, `"expires_in":0`, 1))},
			ReasonAwaitingApproval, "HOST-ILE1", func(st authv1alpha1.DeviceLoginStatus) {
				Expect(st.UserCodeExpiresAt.Time).To(BeTemporally(">", time.Now().Add(time.Minute)))
			}),
		Entry("no expires_in", hostile{device: jsonHandler(200, strings.Replace(okDevice, `"expires_in":600,`, ``, 1))},
			ReasonAwaitingApproval, "HOST-ILE1", func(st authv1alpha1.DeviceLoginStatus) {
				Expect(st.UserCodeExpiresAt.Time).To(BeTemporally(">", time.Now().Add(time.Minute)))
			}),
		Entry("a token response without access_token", hostile{device: jsonHandler(200, okDevice), token: jsonHandler(200, `{"token_type":"Bearer","expires_in":3600}`)},
			ReasonProviderError, "no access_token", nil),
		Entry("an unknown OAuth error while polling", hostile{device: jsonHandler(200, okDevice), token: jsonHandler(400, `{"error":"unauthorized_client","error_description":"device flow disabled"}`)},
			ReasonProviderError, "unauthorized_client", nil),
	)
})

type otherKey struct{}
