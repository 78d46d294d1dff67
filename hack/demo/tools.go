package main

// The approver's and the operator's tools that the demo shows: the kubectl plugin, a workload
// restarted after a refresh, and the metrics.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/internal/kubectlplugin"
	"github.com/devicelogin-dev/devicelogin-operator/test/e2e/framework"
)

// plugin runs `kubectl devicelogin ARGS` (cmd/kubectl-devicelogin) in-process, as an approver would.
func (d *demo) plugin(ctx context.Context, args ...string) {
	d.say("kubectl devicelogin %s", strings.Join(args, " "))
	if code := kubectlplugin.Run(ctx, append([]string{"--kubeconfig", d.cp.KubeconfigPath}, args...),
		kubectlplugin.Options{Out: d.out, ErrOut: d.out}); code != 0 {
		d.info("(kubectl devicelogin exited with %d)", code)
	}
}

// consumerDeployment is a workload that reads the token from an environment variable, which a
// refresh never updates: the DeviceLogin lists it in rolloutRestartTargets. (No kubelet runs here,
// so the demo shows the restart on the Deployment's pod template, not on pods.)
func consumerDeployment() *appsv1.Deployment {
	labels := map[string]string{"app": consumer}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: consumer, Namespace: namespace},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "runner", Image: "registry.example.com/ci-runner:1",
					Env: []corev1.EnvVar{{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
						LocalObjectReference: corev1.LocalObjectReference{Name: secretName}, Key: "access_token",
					}}}},
				}}},
			},
		},
	}
}

// showRestart waits for the consumer's restart after the refresh and shows it.
func (d *demo) showRestart(ctx context.Context) {
	var at string
	err := poll(ctx, 20*time.Second, func() (bool, error) {
		var dep appsv1.Deployment
		if err := d.cp.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: consumer}, &dep); err != nil {
			return false, err
		}
		at = dep.Spec.Template.Annotations[authv1alpha1.RestartedAtAnnotation]
		return at != "", nil
	})
	if err != nil {
		d.info("Deployment %s was not restarted: %v", consumer, err)
		return
	}
	d.say("Deployment %s restarted after the refresh (pod template %s=%s)", consumer, authv1alpha1.RestartedAtAnnotation, at)
	events, _ := framework.EventsFor(ctx, d.cp.Client, namespace, "DeviceLogin", loginName)
	for _, e := range framework.EventsWithReason(events, "RolloutRestarted") {
		d.info("Event %s %s: %s", e.Type, e.Reason, e.Message)
	}
}

// showMetrics prints the manager's devicelogin_* series, as Prometheus scrapes them.
func (d *demo) showMetrics(ctx context.Context) {
	d.say("Metrics (%s), devicelogin_* only", d.metrics)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.metrics, http.NoBody)
	if err != nil {
		d.info("(%v)", err)
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.info("(scraping failed: %v)", err)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		d.info("(scraping failed: %v)", err)
		return
	}
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "devicelogin_") {
			fmt.Fprintln(d.out, "  "+line)
		}
	}
}
