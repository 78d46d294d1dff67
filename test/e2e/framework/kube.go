package framework

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
)

// StateSecretSuffix names the operator's own Secret for a DeviceLogin: <name>-devicelogin-state.
const StateSecretSuffix = "-devicelogin-state"

// DexProvider is a ClusterOAuthProvider for d, discovered from its http:// issuer.
func DexProvider(name string, d *Dex) *authv1alpha1.ClusterOAuthProvider {
	return &authv1alpha1.ClusterOAuthProvider{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: authv1alpha1.OAuthProviderSpec{
			IssuerURL:         d.Issuer,
			ClientID:          DexClientID,
			AllowInsecureHTTP: true,
		},
	}
}

// NewDeviceLogin asks the ClusterOAuthProvider provider for openid, email, profile and
// offline_access (so that Dex issues a refresh token).
func NewDeviceLogin(namespace, name, provider string) *authv1alpha1.DeviceLogin {
	return &authv1alpha1.DeviceLogin{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: authv1alpha1.DeviceLoginSpec{
			ProviderRef:      authv1alpha1.ProviderReference{Kind: authv1alpha1.ClusterOAuthProviderKind, Name: provider},
			Scopes:           []string{"openid", "email", "profile", "offline_access"},
			CodeExpiryPolicy: authv1alpha1.CodeExpiryRenew,
		},
	}
}

// ProviderReady reports whether the ClusterOAuthProvider has Ready=True, and its Ready message.
func ProviderReady(ctx context.Context, c client.Client, name string) (bool, string, error) {
	p := &authv1alpha1.ClusterOAuthProvider{}
	if err := c.Get(ctx, types.NamespacedName{Name: name}, p); err != nil {
		return false, "", err
	}
	cond := meta.FindStatusCondition(p.Status.Conditions, "Ready")
	if cond == nil {
		return false, "no Ready condition yet", nil
	}
	return cond.Status == metav1.ConditionTrue, cond.Reason + ": " + cond.Message, nil
}

// ReadyCondition is the DeviceLogin's Ready condition, or nil.
func ReadyCondition(dl *authv1alpha1.DeviceLogin) *metav1.Condition {
	return meta.FindStatusCondition(dl.Status.Conditions, "Ready")
}

// EventsFor lists the events about the object of that kind and name, oldest first. Events the
// controller records through events.k8s.io/v1 show up here (and in kubectl describe) too.
func EventsFor(ctx context.Context, c client.Client, namespace, kind, name string) ([]corev1.Event, error) {
	list := &corev1.EventList{}
	if err := c.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	var out []corev1.Event
	for _, e := range list.Items {
		if e.InvolvedObject.Kind == kind && e.InvolvedObject.Name == name {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return eventTime(out[i]).Before(eventTime(out[j])) })
	return out, nil
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	default:
		return e.CreationTimestamp.Time
	}
}

// EventsWithReason keeps the events with that reason.
func EventsWithReason(events []corev1.Event, reason string) []corev1.Event {
	var out []corev1.Event
	for _, e := range events {
		if e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

// ErrNoKubectl says that kubectl is not on PATH.
var ErrNoKubectl = errors.New("kubectl is not on PATH")

// Kubectl runs kubectl with KUBECONFIG=kubeconfig and returns its standard output (its standard
// error, e.g. a version-skew warning, goes into the error only when kubectl fails).
func Kubectl(ctx context.Context, kubeconfig string, args ...string) (string, error) {
	path, err := exec.LookPath("kubectl")
	if err != nil {
		return "", ErrNoKubectl
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// SecretKeys lists a Secret's keys, sorted: what may be shown of it.
func SecretKeys(s *corev1.Secret) []string {
	keys := make([]string, 0, len(s.Data))
	for k := range s.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
