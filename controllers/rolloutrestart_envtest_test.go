package controllers

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/secrethash"
	"github.com/devicelogin-dev/devicelogin-operator/internal/testidp"
)

// startRolloutManager runs the rollout-restart controller in a manager of its own, beside the
// suite's main manager (which runs the DeviceLogin controller), with main.go's cache settings.
func startRolloutManager() *runningManager {
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:     scheme,
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Cache:      CacheOptions(nil),
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	Expect(err).NotTo(HaveOccurred())
	Expect(SetupRolloutRestartWithManager(mgr, clock.RealClock{})).To(Succeed())
	ctx, cancel := context.WithCancel(context.Background())
	m := &runningManager{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer GinkgoRecover()
		defer close(m.done)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	return m
}

// newDeployment creates a minimal Deployment (envtest runs no controllers: it never gets pods).
func newDeployment(ctx context.Context, ns, name string) *appsv1.Deployment {
	sel := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: sel},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "app:1",
					Env: []corev1.EnvVar{{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
						LocalObjectReference: corev1.LocalObjectReference{Name: name + "-token"}, Key: KeyAccessToken}}}},
				}}},
			},
		},
	}
	Expect(k8s.Create(ctx, d)).To(Succeed())
	return d
}

func restartedAtOf(ctx context.Context, d *appsv1.Deployment) string {
	out := &appsv1.Deployment{}
	ExpectWithOffset(1, k8s.Get(ctx, client.ObjectKeyFromObject(d), out)).To(Succeed())
	return out.Spec.Template.Annotations[authv1alpha1.RestartedAtAnnotation]
}

var _ = Describe("Rollout restart", Ordered, func() {
	ctx := context.Background()
	var rollout *runningManager
	BeforeAll(func() { rollout = startRolloutManager() })
	AfterAll(func() { rollout.stop() })

	It("restarts a Deployment when a refresh changes the token, not for the first token", func() {
		ns := newNamespace(ctx)
		idp := newIDP(testidp.Options{})
		newProvider(ctx, ns, idp)
		web := newDeployment(ctx, ns, "web")
		dl := newLogin(ctx, ns, "web", func(d *authv1alpha1.DeviceLogin) {
			d.Spec.SecretName = "web-token"
			d.Spec.RolloutRestartTargets = []authv1alpha1.RolloutRestartTarget{
				{Kind: authv1alpha1.RolloutRestartDeployment, Name: "web"},
				{Kind: authv1alpha1.RolloutRestartDeployment, Name: "gone"},
			}
			d.Spec.RolloutRestartMinInterval = &metav1.Duration{}
		})
		Expect(idp.Approve(waitForCode(ctx, dl), "alice@example.com")).To(Succeed())
		Eventually(func() string { return readyReason(ctx, dl) }, 10*time.Second).Should(Equal("True/Authorized"))

		By("recording the first token's hash without restarting")
		first, err := tokenSecret(ctx, ns, "web-token")
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() string { return getLogin(ctx, dl).Status.RolloutRestartedDataHash }, 10*time.Second).
			Should(Equal(secrethash.DataHash(first.Data)))
		Expect(getLogin(ctx, dl).Status.LastRolloutRestartTime).To(BeNil())
		Expect(restartedAtOf(ctx, web)).To(BeEmpty())

		By("restarting after a refresh")
		annotate(ctx, dl, authv1alpha1.RefreshAnnotation, "1")
		Eventually(func() string { return restartedAtOf(ctx, web) }, 15*time.Second, 100*time.Millisecond).ShouldNot(BeEmpty())
		at, err := time.Parse(time.RFC3339, restartedAtOf(ctx, web))
		Expect(err).NotTo(HaveOccurred())
		Expect(at).To(BeTemporally("~", time.Now(), 30*time.Second))
		second, err := tokenSecret(ctx, ns, "web-token")
		Expect(err).NotTo(HaveOccurred())
		Expect(second.Data[KeyAccessToken]).NotTo(Equal(first.Data[KeyAccessToken]))
		Eventually(func(g Gomega) {
			st := getLogin(ctx, dl).Status
			g.Expect(st.RolloutRestartedDataHash).To(Equal(secrethash.DataHash(second.Data)))
			g.Expect(st.LastRolloutRestartTime).NotTo(BeNil())
		}, 10*time.Second).Should(Succeed())
		Eventually(func() []string { return eventNotes(ctx, dl, EventRolloutRestarted) }).Should(ContainElement(
			ContainSubstring("Restarted Deployment/web: the data of Secret web-token changed")))
		Eventually(func() []string { return eventNotes(ctx, dl, EventRolloutRestartFailed) }).Should(ContainElement(
			ContainSubstring("Deployment gone not found")))
	})
})

var _ = Describe("rolloutRestartTargets validation", func() {
	ctx := context.Background()

	It("defaults the interval and refuses other kinds, bad names, too many targets and bad intervals", func() {
		ns := newNamespace(ctx)
		login := func(mutate func(*authv1alpha1.DeviceLogin)) *authv1alpha1.DeviceLogin {
			dl := &authv1alpha1.DeviceLogin{
				ObjectMeta: metav1.ObjectMeta{Name: "v", Namespace: ns},
				Spec: authv1alpha1.DeviceLoginSpec{
					ProviderRef:           authv1alpha1.ProviderReference{Name: "idp"},
					RolloutRestartTargets: []authv1alpha1.RolloutRestartTarget{{Kind: "Deployment", Name: "web"}},
				},
			}
			mutate(dl)
			return dl
		}
		ok := login(func(*authv1alpha1.DeviceLogin) {})
		Expect(k8s.Create(ctx, ok, client.DryRunAll)).To(Succeed())
		Expect(ok.Spec.RolloutRestartMinInterval).To(Equal(&metav1.Duration{Duration: 5 * time.Minute}))
		Expect(k8s.Create(ctx, login(func(d *authv1alpha1.DeviceLogin) {
			d.Spec.RolloutRestartMinInterval = &metav1.Duration{}
		}), client.DryRunAll)).To(Succeed(), "0s turns the debounce off")

		for name, mutate := range map[string]func(*authv1alpha1.DeviceLogin){
			"a Pod": func(d *authv1alpha1.DeviceLogin) { d.Spec.RolloutRestartTargets[0].Kind = "Pod" },
			"a name that is no DNS-1123 subdomain": func(d *authv1alpha1.DeviceLogin) {
				d.Spec.RolloutRestartTargets[0].Name = "Web_1"
			},
			"17 targets": func(d *authv1alpha1.DeviceLogin) {
				for range 16 {
					d.Spec.RolloutRestartTargets = append(d.Spec.RolloutRestartTargets, d.Spec.RolloutRestartTargets[0])
				}
			},
		} {
			Expect(k8s.Create(ctx, login(mutate), client.DryRunAll)).NotTo(Succeed(), name)
		}
		bad := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "auth.devicelogin.dev/v1alpha1", "kind": "DeviceLogin",
			"metadata": map[string]any{"name": "v", "namespace": ns},
			"spec": map[string]any{"providerRef": map[string]any{"name": "idp"},
				"rolloutRestartMinInterval": "soon"},
		}}
		Expect(k8s.Create(ctx, bad, client.DryRunAll)).To(MatchError(ContainSubstring("must be a duration")))
	})
})
