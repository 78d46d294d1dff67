package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/providersim"
)

// The Presets specs drive the real controller against a simulation of each preset's provider
// (internal/providersim), with the preset's issuerURL pointed at the simulation: approval,
// authorization_pending, a forced slow_down, denial, expiry and refresh, each in the provider's
// own shapes. Every spec runs several DeviceLogins at once against one simulation, so that the
// waits (the raised interval after slow_down above all) overlap.

// presetSims are the simulations the Presets specs started, for the leak scan at their end.
var presetSims []*providersim.Server

// refreshRule is what a provider does with refresh tokens.
type refreshRule int

const (
	noRefresh      refreshRule = iota // no refresh token at all (GitHub OAuth Apps)
	rotateKillsOld                    // a new refresh token; the old one and the old access token die (Sentry, GitHub Apps, GitLab)
	rotateKeepsOld                    // a new refresh token; the old one stays valid (Entra)
	noRotation                        // no new refresh token; the one used stays valid (Google)
)

// presetCase is one preset's conformance run.
type presetCase struct {
	preset   authv1alpha1.Preset
	provider providersim.Provider
	opts     providersim.Options
	scopes   []string
	// verificationURI is the page a person visits; complete says whether a complete URI comes too.
	verificationURI func(*providersim.Server) string
	complete        bool
	// pollInterval is the status's poll interval (s) while a code is pending: the provider's
	// interval plus the preset's PollMargin.
	pollInterval int32
	// granted are the scopes the status reports; subject who approved ("" when the provider
	// does not say in a way the operator can trust).
	granted []string
	subject string
	idToken bool
	expires bool
	refresh refreshRule
	// slowDownInterval is the poll interval (s) status must show after one slow_down, given the
	// interval (s) it showed before.
	slowDownInterval func(before int32) int32
	// denial is the provider's own code for a denied request.
	denial string
	// extra starts provider-specific logins in ns and returns their checks.
	extra func(ctx context.Context, ns string, sim *providersim.Server) func()
}

// startPresetSim starts a simulation with a 1 s interval unless o says otherwise.
func startPresetSim(p providersim.Provider, o providersim.Options) *providersim.Server {
	if o.Interval == 0 {
		o.Interval = time.Second
	}
	s := providersim.New(p, o)
	presetSims = append(presetSims, s)
	DeferCleanup(s.Close)
	return s
}

// presetProvider creates an OAuthProvider with the preset, issuerURL pointed at sim, and a
// clientSecretRef when secret is set.
func presetProvider(ctx context.Context, ns, name string, preset authv1alpha1.Preset, sim *providersim.Server, secret string,
	mutate ...func(*authv1alpha1.OAuthProviderSpec)) *authv1alpha1.OAuthProvider {
	p := &authv1alpha1.OAuthProvider{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: authv1alpha1.OAuthProviderSpec{
			Preset: preset, IssuerURL: sim.URL(), AllowInsecureHTTP: true, ClientID: sim.ClientID(),
		},
	}
	if secret != "" {
		Expect(k8s.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name + "-client", Namespace: ns},
			StringData: map[string]string{"client-secret": secret},
		})).To(Succeed())
		p.Spec.ClientSecretRef = &authv1alpha1.SecretKeyRef{Name: name + "-client", Key: "client-secret"}
	}
	for _, m := range mutate {
		m(&p.Spec)
	}
	Expect(k8s.Create(ctx, p)).To(Succeed())
	return p
}

// presetLogin creates a DeviceLogin of provider with these scopes.
func presetLogin(ctx context.Context, ns, name, provider string, scopes []string, mutate ...func(*authv1alpha1.DeviceLogin)) *authv1alpha1.DeviceLogin {
	return newLogin(ctx, ns, name, append([]func(*authv1alpha1.DeviceLogin){func(d *authv1alpha1.DeviceLogin) {
		d.Spec.ProviderRef.Name = provider
		d.Spec.Scopes = scopes
	}}, mutate...)...)
}

// simCode returns what the simulation knows of a user code.
func simCode(sim *providersim.Server, userCode string) providersim.CodeInfo {
	info, ok := sim.Code(userCode)
	ExpectWithOffset(1, ok).To(BeTrue(), "the simulation issued user code %s", userCode)
	return info
}

// simAnswers lists the answers a code's polls got, in order.
func simAnswers(sim *providersim.Server, userCode string) []string {
	var out []string
	for _, p := range simCode(sim, userCode).Polls {
		out = append(out, p.Answer)
	}
	return out
}

// presetWaitReady waits for a Ready condition status/reason.
func presetWaitReady(ctx context.Context, dl *authv1alpha1.DeviceLogin, want string, timeout time.Duration) {
	EventuallyWithOffset(1, func() string { return readyReason(ctx, dl) }, timeout, 100*time.Millisecond).Should(Equal(want))
}

// presetReadyMessage is a DeviceLogin's Ready message.
func presetReadyMessage(ctx context.Context, dl *authv1alpha1.DeviceLogin) string {
	c := meta.FindStatusCondition(getLogin(ctx, dl).Status.Conditions, ConditionReady)
	if c == nil {
		return ""
	}
	return c.Message
}

// presetRefreshNow sets the refresh annotation and waits until the controller has handled it; the
// refresh's outcome is written in the same status update.
func presetRefreshNow(ctx context.Context, dl *authv1alpha1.DeviceLogin, value string) {
	annotate(ctx, dl, authv1alpha1.RefreshAnnotation, value)
	EventuallyWithOffset(1, func() string { return getLogin(ctx, dl).Status.LastHandledRefresh }, 10*time.Second, 100*time.Millisecond).
		Should(Equal(value))
}

// runPresetCase is the conformance run shared by every preset.
func runPresetCase(pc presetCase) {
	ctx := context.Background()
	ns := newNamespace(ctx)
	sim := startPresetSim(pc.provider, pc.opts)
	presetProvider(ctx, ns, "idp", pc.preset, sim, pc.opts.ClientSecret)

	By("resolving the preset's endpoints under issuerURL")
	Eventually(func(g Gomega) {
		var p authv1alpha1.OAuthProvider
		g.Expect(k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "idp"}, &p)).To(Succeed())
		g.Expect(meta.IsStatusConditionTrue(p.Status.Conditions, ConditionReady)).To(BeTrue(), "%+v", p.Status.Conditions)
		g.Expect(p.Status.DeviceAuthorizationURL).To(Equal(sim.DeviceAuthorizationURL()))
		g.Expect(p.Status.TokenURL).To(Equal(sim.TokenURL()))
	}, 10*time.Second, 100*time.Millisecond).Should(Succeed())

	// Everything starts at once; the checks below then take their turns.
	mainLogin := presetLogin(ctx, ns, "main", "idp", pc.scopes, func(d *authv1alpha1.DeviceLogin) { d.Spec.IncludeRefreshToken = true })
	slowLogin := presetLogin(ctx, ns, "slow", "idp", pc.scopes)
	deniedLogin := presetLogin(ctx, ns, "denied", "idp", pc.scopes)
	expiredLogin := presetLogin(ctx, ns, "expired", "idp", pc.scopes)
	// Stop the logins before the simulation closes (DeferCleanup runs last in, first out), so that
	// nothing keeps polling a port a later simulation may get.
	DeferCleanup(func() {
		Expect(k8s.DeleteAllOf(ctx, &authv1alpha1.DeviceLogin{}, client.InNamespace(ns))).To(Succeed())
	})
	var extraChecks func()
	if pc.extra != nil {
		extraChecks = pc.extra(ctx, ns, sim)
	}

	slowCode := waitForCode(ctx, slowLogin)
	Expect(sim.ForceSlowDown(slowCode, 1)).To(Succeed())
	slowBefore := getLogin(ctx, slowLogin).Status.PollInterval
	deniedCode := waitForCode(ctx, deniedLogin)
	Expect(sim.Deny(deniedCode)).To(Succeed())
	expiredCode := waitForCode(ctx, expiredLogin)
	Expect(sim.Expire(expiredCode)).To(Succeed())

	By("publishing the user code and the provider's verification page")
	code := waitForCode(ctx, mainLogin)
	st := getLogin(ctx, mainLogin).Status
	Expect(st.VerificationURI).To(Equal(pc.verificationURI(sim)))
	if pc.complete {
		Expect(st.VerificationURIComplete).To(HavePrefix(st.VerificationURI), "the complete URI is the page with the code")
		Expect(st.VerificationURIComplete).To(ContainSubstring(code))
	} else {
		Expect(st.VerificationURIComplete).To(BeEmpty())
	}
	Expect(presetReadyMessage(ctx, mainLogin)).To(HavePrefix(fmt.Sprintf("Visit %s and enter code %s", st.VerificationURI, code)))
	Expect(st.PollInterval).To(Equal(pc.pollInterval), "the provider's interval plus the preset's margin")
	Expect(st.UserCodeExpiresAt.Time).To(BeTemporally(">", time.Now().Add(time.Minute)))

	By("waiting through authorization_pending")
	Eventually(func() []string { return simAnswers(sim, code) }, 10*time.Second, 100*time.Millisecond).
		Should(ContainElement("authorization_pending"))
	Expect(readyReason(ctx, mainLogin)).To(Equal("False/AwaitingApproval"))

	By("raising the poll interval after slow_down, in status")
	want := pc.slowDownInterval(slowBefore)
	Eventually(func() int32 { return getLogin(ctx, slowLogin).Status.PollInterval }, 15*time.Second, 100*time.Millisecond).
		Should(Equal(want))
	expectSimPendingThen(simAnswers(sim, slowCode), "slow_down")
	Expect(sim.Approve(slowCode, "bob@example.com")).To(Succeed()) // the next poll, after the raised interval, gets tokens

	By("writing the token Secret after approval")
	Expect(sim.Approve(code, "alice@example.com")).To(Succeed())
	presetWaitReady(ctx, mainLogin, "True/Authorized", 15*time.Second)
	issued := simCode(sim, code)
	sec, err := tokenSecret(ctx, ns, "main")
	Expect(err).NotTo(HaveOccurred())
	Expect(string(sec.Data[KeyAccessToken])).To(Equal(issued.AccessToken))
	Expect(sim.IsAccessTokenValid(issued.AccessToken)).To(BeTrue())
	Expect(sec.Data).To(HaveKey(KeyTokenType))
	if pc.expires {
		Expect(sec.Data).To(HaveKey(KeyExpiry))
	} else {
		Expect(sec.Data).NotTo(HaveKey(KeyExpiry))
	}
	if pc.idToken {
		Expect(sec.Data).To(HaveKey(KeyIDToken))
	} else {
		Expect(sec.Data).NotTo(HaveKey(KeyIDToken))
	}
	if issued.RefreshToken != "" {
		Expect(string(sec.Data[KeyRefreshToken])).To(Equal(issued.RefreshToken))
	} else {
		Expect(sec.Data).NotTo(HaveKey(KeyRefreshToken))
	}
	st = getLogin(ctx, mainLogin).Status
	Expect(st.AuthorizedSubject).To(Equal(pc.subject))
	if len(pc.granted) == 0 {
		Expect(st.GrantedScopes).To(BeEmpty())
	} else {
		Expect(st.GrantedScopes).To(Equal(pc.granted))
	}
	if len(pc.granted) > 0 && issued.Scope != "" {
		Expect(string(sec.Data[KeyScope])).To(Equal(strings.Join(pc.granted, " ")))
	}
	Eventually(func() []string { return eventReasons(ctx, mainLogin) }).Should(ContainElement(ReasonAuthorized))

	switch pc.refresh {
	case noRefresh:
		By("never refreshing a token that does not expire")
		Expect(st.TokenExpiresAt).To(BeNil())
		Expect(st.NextRefreshTime).To(BeNil())
		Consistently(func() int { return sim.Count(providersim.EndpointToken, "refresh_token") }, 2*time.Second, 200*time.Millisecond).
			Should(BeZero())
	default:
		By("refreshing on the refresh annotation, as the provider rotates refresh tokens")
		Expect(st.NextRefreshTime).NotTo(BeNil())
		first := issued
		presetRefreshNow(ctx, mainLogin, "1")
		sec, _ = tokenSecret(ctx, ns, "main")
		access, rt := string(sec.Data[KeyAccessToken]), string(sec.Data[KeyRefreshToken])
		Expect(access).NotTo(Equal(first.AccessToken))
		Expect(sim.IsAccessTokenValid(access)).To(BeTrue())
		Expect(sim.IsRefreshTokenValid(rt)).To(BeTrue())
		switch pc.refresh {
		case rotateKillsOld:
			Expect(rt).NotTo(Equal(first.RefreshToken))
			Expect(sim.IsRefreshTokenValid(first.RefreshToken)).To(BeFalse(), "the old refresh token dies at once")
			Expect(sim.IsAccessTokenValid(first.AccessToken)).To(BeFalse(), "the old access token dies with it")
		case rotateKeepsOld:
			Expect(rt).NotTo(Equal(first.RefreshToken), "the controller keeps the newest refresh token")
			Expect(sim.IsRefreshTokenValid(first.RefreshToken)).To(BeTrue())
		case noRotation:
			Expect(rt).To(Equal(first.RefreshToken), "the refresh token the provider did not resend is kept")
		}
		presetRefreshNow(ctx, mainLogin, "2")
		Expect(sim.UsedRefreshTokens()).To(Equal([]string{first.RefreshToken, rt}), "each refresh used the newest refresh token")
		for _, r := range sim.Requests() {
			if r.GrantType == "refresh_token" {
				Expect(r.Params).NotTo(ContainElement("scope"), "no scope on refresh")
			}
		}
		Expect(readyReason(ctx, mainLogin)).To(Equal("True/Authorized"))
		Expect(meta.IsStatusConditionTrue(getLogin(ctx, mainLogin).Status.Conditions, ConditionTokenRefreshed)).To(BeTrue())
		Eventually(func() []string { return eventReasons(ctx, mainLogin) }).Should(ContainElement(EventTokenRefreshed))
	}

	By("stopping at the denial (" + pc.denial + ")")
	presetWaitReady(ctx, deniedLogin, "False/AccessDenied", 15*time.Second)
	expectSimPendingThen(simAnswers(sim, deniedCode), pc.denial)
	Eventually(func() []string { return eventReasons(ctx, deniedLogin) }).Should(ContainElement(ReasonAccessDenied))

	By("asking for a new code when the code expired")
	Eventually(func() string { return getLogin(ctx, expiredLogin).Status.UserCode }, 15*time.Second, 100*time.Millisecond).
		ShouldNot(Or(BeEmpty(), Equal(expiredCode)))
	expectSimPendingThen(simAnswers(sim, expiredCode), "expired_token")
	Eventually(func() []string { return eventReasons(ctx, expiredLogin) }).Should(ContainElement(ReasonCodeExpired))
	Expect(readyReason(ctx, expiredLogin)).To(Equal("False/AwaitingApproval"))

	if extraChecks != nil {
		extraChecks()
	}

	By("keeping the raised poll interval until the approval")
	presetWaitReady(ctx, slowLogin, "True/Authorized", time.Duration(want+10)*time.Second)
	slow := simCode(sim, slowCode)
	expectSimPendingThen(simAnswers(sim, slowCode), "slow_down", "token")
	n := len(slow.Polls)
	Expect(slow.Polls[n-1].Time.Sub(slow.Polls[n-2].Time)).To(BeNumerically(">=", time.Duration(want)*time.Second-100*time.Millisecond),
		"no poll before the raised interval")
	Expect(slow.ForcedSlowDowns).To(Equal(1))

	if pc.refresh != noRefresh {
		By("asking for a new code when the provider refuses the refresh token")
		served, _ := tokenSecret(ctx, ns, "main")
		sim.RevokeRefreshTokens()
		annotate(ctx, mainLogin, authv1alpha1.RefreshAnnotation, "refused")
		presetWaitReady(ctx, mainLogin, "True/ReauthorizationRequired", 10*time.Second)
		Expect(waitForCode(ctx, mainLogin)).NotTo(BeEmpty())
		Eventually(func() []string { return eventReasons(ctx, mainLogin) }).Should(ContainElement(ReasonReauthorizationRequired))
		now, _ := tokenSecret(ctx, ns, "main")
		Expect(now.Data[KeyAccessToken]).To(Equal(served.Data[KeyAccessToken]), "the current token is still served")
	}

	Expect(sim.EarnedSlowDowns()).To(BeZero(), "the controller never polled early")
}

var _ = Describe("Presets", Ordered, func() {
	ctx := context.Background()
	var started time.Time
	BeforeAll(func() { started = time.Now() })
	AfterAll(func() {
		AddReportEntry("Presets wall time", time.Since(started).Round(100*time.Millisecond).String())
		GinkgoWriter.Printf("MEASURE Presets container wall time: %s\n", time.Since(started).Round(100*time.Millisecond))
	})

	It("Sentry: trailing-slash paths, public client_id only, 400 {error} answers, 5 s window with margin, rotation, user object", func() {
		runPresetCase(presetCase{
			preset: authv1alpha1.PresetSentry, provider: providersim.Sentry,
			// The per-code window, scaled like the interval: one poll per 1 s window.
			opts:            providersim.Options{RateWindow: time.Second},
			scopes:          []string{"org:read", "project:read"},
			verificationURI: func(s *providersim.Server) string { return s.URL() + "/oauth/device/" },
			complete:        true, pollInterval: 2, granted: []string{"org:read", "project:read"}, subject: "alice@example.com",
			expires: true, refresh: rotateKillsOld, denial: "access_denied",
			slowDownInterval: func(before int32) int32 { return before + 5 },
			extra: func(_ context.Context, _ string, sim *providersim.Server) func() {
				return func() {
					By("polling every code with the preset's margin, so the window never answers slow_down")
					for _, r := range sim.Requests() {
						if r.Endpoint == providersim.EndpointToken {
							Expect(r.ClientAuth).To(Equal("none"), "a public client sends client_id alone")
							Expect(r.Params).NotTo(ContainElement("client_secret"))
						}
					}
					expectSimPollSpacing(sim, 2*time.Second) // 1 s interval + 1 s PollMargin
				}
			},
		})
	})

	It("GitHub App: form or JSON by Accept, errors with HTTP 200, slow_down's interval, expiring rotating tokens, bad_refresh_token", func() {
		runPresetCase(presetCase{
			preset: authv1alpha1.PresetGitHub, provider: providersim.GitHub,
			// A slow_down step other than the RFC's 5 s shows that the interval in the answer is used.
			opts:            providersim.Options{ExpiringTokens: true, ClientSecret: "github-app-secret", SlowDownStep: 6 * time.Second},
			verificationURI: func(s *providersim.Server) string { return s.URL() + "/login/device" },
			pollInterval:    1, expires: true, refresh: rotateKillsOld, denial: "access_denied",
			subject:          "alice", // the login from the REST API's /user (email is private there)
			slowDownInterval: func(before int32) int32 { return before + 6 },
			extra: func(ctx context.Context, ns string, sim *providersim.Server) func() {
				disabled := startPresetSim(providersim.GitHub, providersim.Options{DeviceFlowDisabled: true})
				presetProvider(ctx, ns, "disabled", authv1alpha1.PresetGitHub, disabled, "")
				off := presetLogin(ctx, ns, "flow-disabled", "disabled", nil)
				return func() {
					By("asking for JSON on every request, and getting errors with HTTP 200")
					for _, r := range sim.Requests() {
						Expect(r.Accept).To(Equal("application/json"))
						if r.Endpoint == providersim.EndpointToken && r.Error != "" {
							Expect(r.Status).To(Equal(200))
						}
					}
					By("reporting device_flow_disabled as a provider error")
					presetWaitReady(ctx, off, "False/ProviderError", 10*time.Second)
					Expect(presetReadyMessage(ctx, off)).To(ContainSubstring("device_flow_disabled"))
					Expect(presetReadyMessage(ctx, off)).To(ContainSubstring("Device Flow must be explicitly enabled"))
				}
			},
		})
	})

	It("GitHub OAuth App: tokens that never expire, no refresh, comma-separated scopes", func() {
		runPresetCase(presetCase{
			preset: authv1alpha1.PresetGitHub, provider: providersim.GitHub,
			scopes:          []string{"repo", "read:org"},
			verificationURI: func(s *providersim.Server) string { return s.URL() + "/login/device" },
			granted:         []string{"repo", "read:org"}, pollInterval: 1, subject: "alice",
			refresh: noRefresh, denial: "access_denied",
			slowDownInterval: func(before int32) int32 { return before + 5 },
		})
	})

	It("Google: verification_url, client secret when polling, 428 pending and 403 slow_down, refresh tokens not rotated", func() {
		runPresetCase(presetCase{
			preset: authv1alpha1.PresetGoogle, provider: providersim.Google,
			opts:            providersim.Options{ClientSecret: "google-secret"},
			scopes:          []string{"openid", "email"},
			verificationURI: func(*providersim.Server) string { return "https://www.google.com/device" },
			granted:         []string{"openid", "https://www.googleapis.com/auth/userinfo.email"}, pollInterval: 1,
			subject: "alice@example.com", // the email of the ID token, verified against Google's issuer
			idToken: true, expires: true, refresh: noRotation, denial: "access_denied",
			slowDownInterval: func(before int32) int32 { return before + 5 },
			extra: func(ctx context.Context, ns string, sim *providersim.Server) func() {
				presetProvider(ctx, ns, "no-secret", authv1alpha1.PresetGoogle, sim, "")
				noSecret := presetLogin(ctx, ns, "no-secret", "no-secret", []string{"email"})
				return func() {
					By("refusing, before any request, a Google provider without the client secret Google needs")
					presetWaitReady(ctx, noSecret, "False/ProviderNotReady", 10*time.Second)
					Expect(presetReadyMessage(ctx, noSecret)).To(ContainSubstring("the Google preset needs the client secret"))
					Expect(getLogin(ctx, noSecret).Status.UserCode).To(BeEmpty())
					By("sending the secret in the body, never in a Basic header")
					for _, r := range sim.Requests() {
						Expect(r.ClientAuth).To(BeElementOf("post", "none"))
					}
					statuses := map[string]int{}
					for _, r := range sim.Requests() {
						if r.Error != "" {
							statuses[r.Error] = r.Status
						}
					}
					Expect(statuses).To(HaveKeyWithValue("authorization_pending", 428))
					Expect(statuses).To(HaveKeyWithValue("slow_down", 403))
					Expect(statuses).To(HaveKeyWithValue("access_denied", 403))
				}
			},
		})
	})

	It("Microsoft: tenant authority, message and no complete URI, authorization_declined, offline_access, v1 numbers as strings", func() {
		runPresetCase(presetCase{
			preset: authv1alpha1.PresetMicrosoft, provider: providersim.Microsoft,
			opts:            providersim.Options{Tenant: "contoso.onmicrosoft.com"},
			scopes:          []string{"openid", "profile", "offline_access", "User.Read"},
			verificationURI: func(*providersim.Server) string { return "https://microsoft.com/devicelogin" },
			granted:         []string{"openid", "profile", "User.Read"}, pollInterval: 1,
			subject: "alice@example.com", // preferred_username of the ID token, verified against the tenant's issuer
			idToken: true, expires: true, refresh: rotateKeepsOld, denial: "authorization_declined",
			slowDownInterval: func(before int32) int32 { return before + 5 },
			extra: func(ctx context.Context, ns string, sim *providersim.Server) func() {
				offline := presetLogin(ctx, ns, "no-offline", "idp", []string{"openid", "User.Read"},
					func(d *authv1alpha1.DeviceLogin) { d.Spec.IncludeRefreshToken = true })
				presetProvider(ctx, ns, "v1", authv1alpha1.PresetMicrosoft, sim, "", func(s *authv1alpha1.OAuthProviderSpec) {
					s.DeviceAuthorizationURL, s.TokenURL = sim.MicrosoftV1DeviceAuthorizationURL(), sim.MicrosoftV1TokenURL()
				})
				v1 := presetLogin(ctx, ns, "v1", "v1", []string{"offline_access"})
				presetProvider(ctx, ns, "with-secret", authv1alpha1.PresetMicrosoft, sim, "a-secret-for-a-public-client")
				withSecret := presetLogin(ctx, ns, "with-secret", "with-secret", []string{"User.Read"})
				return func() {
					By("issuing no refresh token without offline_access: a refresh request says so and points to reauthorize")
					Expect(sim.Approve(waitForCode(ctx, offline), "carol@example.com")).To(Succeed())
					presetWaitReady(ctx, offline, "True/Authorized", 10*time.Second)
					s, _ := tokenSecret(ctx, ns, "no-offline")
					Expect(s.Data).NotTo(HaveKey(KeyRefreshToken))
					annotate(ctx, offline, authv1alpha1.RefreshAnnotation, "1")
					Eventually(func() []string { return eventNotes(ctx, offline, EventRefreshFailed) }).Should(ContainElement(
						ContainSubstring("no refresh token")))
					Expect(getLogin(ctx, offline).Status.UserCode).To(BeEmpty(), "no approval is asked for unprompted")
					presetWaitReady(ctx, offline, "True/Authorized", time.Second)
					annotate(ctx, offline, authv1alpha1.ReauthorizeAnnotation, "1")
					Expect(waitForCode(ctx, offline)).NotTo(BeEmpty())

					By("reading the v1 endpoints' numbers sent as strings (explicit endpoints override the preset)")
					v1Code := waitForCode(ctx, v1)
					Expect(getLogin(ctx, v1).Status.PollInterval).To(BeEquivalentTo(1))
					Expect(getLogin(ctx, v1).Status.UserCodeExpiresAt.Time).To(BeTemporally("~", time.Now().Add(15*time.Minute), 30*time.Second))
					Expect(sim.Approve(v1Code, "dave@example.com")).To(Succeed())
					presetWaitReady(ctx, v1, "True/Authorized", 10*time.Second)
					Expect(getLogin(ctx, v1).Status.TokenExpiresAt.Time).To(BeTemporally("~", time.Now().Add(time.Hour), time.Minute))

					By("failing clearly when a public client is configured with a secret")
					presetWaitReady(ctx, withSecret, "False/ProviderError", 10*time.Second)
					Expect(presetReadyMessage(ctx, withSecret)).To(ContainSubstring("AADSTS700025"))
				}
			},
		})
	})

	It("GitLab: RFC shapes, OIDC discovery under issuerURL, subject from the ID token, rotation, non-confidential application", func() {
		runPresetCase(presetCase{
			preset: authv1alpha1.PresetGitLab, provider: providersim.GitLab,
			scopes:          []string{"openid", "email", "read_api"},
			verificationURI: func(s *providersim.Server) string { return s.URL() + "/oauth/device" },
			complete:        true, pollInterval: 1, granted: []string{"openid", "email", "read_api"}, subject: "alice@example.com",
			idToken: true, expires: true, refresh: rotateKillsOld, denial: "access_denied",
			slowDownInterval: func(before int32) int32 { return before + 5 },
			extra: func(ctx context.Context, ns string, sim *providersim.Server) func() {
				confidential := startPresetSim(providersim.GitLab, providersim.Options{ClientSecret: "gitlab-secret"})
				presetProvider(ctx, ns, "confidential", authv1alpha1.PresetGitLab, confidential, "")
				refused := presetLogin(ctx, ns, "confidential", "confidential", []string{"read_api"})
				return func() {
					By("taking the issuer, keys and userinfo from discovery")
					var p authv1alpha1.OAuthProvider
					Expect(k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "idp"}, &p)).To(Succeed())
					Expect(p.Status.Issuer).To(Equal(sim.URL()))
					Expect(p.Status.JWKSURL).To(Equal(sim.URL() + "/oauth/discovery/keys"))
					Expect(p.Status.UserinfoURL).To(Equal(sim.URL() + "/oauth/userinfo"))
					Expect(p.Status.RevocationURL).To(Equal(sim.URL() + "/oauth/revoke"))
					By("refusing a client-ID-only flow for a confidential application")
					presetWaitReady(ctx, refused, "False/ProviderError", 10*time.Second)
					Expect(presetReadyMessage(ctx, refused)).To(ContainSubstring("invalid_client"))
				}
			},
		})
	})

	It("leaves none of the simulated providers' tokens, codes or client secrets in logs, events or status", func() {
		var secrets []string
		for _, s := range presetSims {
			secrets = append(secrets, s.Secrets()...)
		}
		Expect(len(secrets)).To(BeNumerically(">", 50), "the specs above issued tokens and codes")
		texts, _ := leakTexts(ctx)
		// The specs' client-secret Secrets hold client secrets on purpose; the suite-wide scan
		// (scanForLeaks) searches the other Secrets for tokens.
		delete(texts, "Secrets")
		var leaks []string
		for _, v := range secrets {
			for where, text := range texts {
				if containsAnyEncoding(text, v) {
					leaks = append(leaks, fmt.Sprintf("a secret value of length %d in %s", len(v), where))
				}
			}
		}
		slices.Sort(leaks)
		Expect(leaks).To(BeEmpty())
	})
})

// expectSimPendingThen checks that a code's answers were authorization_pending (any number of times,
// polls may come before a control takes effect) and then exactly last.
func expectSimPendingThen(got []string, last ...string) {
	ExpectWithOffset(1, len(got)).To(BeNumerically(">=", len(last)), "answers %v", got)
	head, tail := got[:len(got)-len(last)], got[len(got)-len(last):]
	ExpectWithOffset(1, tail).To(Equal(last), "answers %v", got)
	for _, a := range head {
		ExpectWithOffset(1, a).To(Equal("authorization_pending"), "answers %v", got)
	}
}

// expectSimPollSpacing checks that every code's polls came at least minGap apart.
func expectSimPollSpacing(sim *providersim.Server, minGap time.Duration) {
	for _, code := range sim.UserCodes() {
		polls := simCode(sim, code).Polls
		for i := 1; i < len(polls); i++ {
			ExpectWithOffset(1, polls[i].Time.Sub(polls[i-1].Time)).To(BeNumerically(">=", minGap-100*time.Millisecond),
				"polls %d and %d of code %s", i-1, i, code)
		}
	}
}
