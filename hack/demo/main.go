// Command demo shows the devicelogin-operator at work on this machine, with nothing but what
// `make demo` builds: a kube-apiserver and etcd, a real Dex on 127.0.0.1, and the manager binary
// running with the project's own RBAC. It applies a ClusterOAuthProvider for Dex and a
// DeviceLogin, prints what an admin sees (kubectl describe, the URL to open, the demo login),
// waits for the approval and then reports every token refresh. Ctrl-C stops everything.
//
//	make demo                     # approve in your browser
//	make demo DEMO_APPROVE=auto   # approve headlessly; exit 0 after the first refresh
//
// Environment: DEMO_APPROVE (auto, or empty for a person), DEMO_TIMEOUT (a duration; default 4m
// with DEMO_APPROVE=auto, none otherwise), DEMO_DEX_PORT (default: a free port), DEMO_KEEP=1
// (keep the working directory with the logs and kubeconfig), and the binaries' locations
// KUBEBUILDER_ASSETS, DEX_BINARY and MANAGER_BINARY (default: under bin/).
//
// Token, refresh token and device code values are never printed: only the token Secret's keys.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/test/e2e/framework"
)

const (
	namespace    = "demo"
	loginName    = "ci-bot"
	secretName   = "ci-bot-token"
	providerName = "dex"
	// consumer reads the token from an environment variable, so it is restarted after a refresh.
	consumer = "ci-runner"
)

func main() { os.Exit(run(os.Stdout)) }

type demo struct {
	out     io.Writer
	auto    bool
	dir     string
	cp      *framework.ControlPlane
	dex     *framework.Dex
	mgr     *framework.Manager
	addrs   []string // what must stop listening when the demo ends
	started time.Time
	metrics string // the manager's metrics URL
}

func run(out io.Writer) int {
	d := &demo{out: out, started: time.Now()}
	var timeout time.Duration
	switch v := os.Getenv("DEMO_APPROVE"); v {
	case "", "manual":
	case "auto":
		d.auto, timeout = true, 4*time.Minute
	default:
		fmt.Fprintf(os.Stderr, "demo: DEMO_APPROVE=%q is not understood: set it to auto, or leave it empty to approve in a browser\n", v)
		return 2
	}
	if v := os.Getenv("DEMO_TIMEOUT"); v != "" {
		t, err := time.ParseDuration(v)
		if err != nil {
			fmt.Fprintf(os.Stderr, "demo: DEMO_TIMEOUT=%q: %v\n", v, err)
			return 2
		}
		timeout = t
	}

	// The signal handler stays installed until everything is stopped: a second Ctrl-C must not
	// leave Dex or the control plane running.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}

	err := d.run(ctx)
	interrupted := errors.Is(err, context.Canceled)
	timedOut := errors.Is(err, context.DeadlineExceeded)
	switch {
	case err == nil:
	case interrupted:
		d.say("Interrupted: stopping everything")
	case timedOut:
		fmt.Fprintf(os.Stderr, "demo: FAILED: timed out after %s: %v\n", timeout, err)
	default:
		fmt.Fprintf(os.Stderr, "demo: FAILED: %v\n", err)
	}
	failed := err != nil && !interrupted
	if stopErr := d.stop(failed || os.Getenv("DEMO_KEEP") == "1"); stopErr != nil {
		fmt.Fprintf(os.Stderr, "demo: FAILED to stop cleanly: %v\n", stopErr)
		return 1
	}
	if failed {
		return 1
	}
	return 0
}

func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, "==> "+format+"\n", args...)
}

func (d *demo) info(format string, args ...any) {
	fmt.Fprintf(d.out, "    "+format+"\n", args...)
}

func (d *demo) run(ctx context.Context) error {
	managerBinary, err := framework.ManagerBinary()
	if err != nil {
		return err
	}
	if d.dir, err = os.MkdirTemp("", "devicelogin-demo-"); err != nil {
		return err
	}

	d.say("Starting kube-apiserver and etcd")
	if d.cp, err = framework.StartControlPlane(filepath.Join(d.dir, "controlplane")); err != nil {
		return err
	}
	d.addrs = append(d.addrs, d.cp.ListenAddrs()...)
	d.info("API server: %s (CRDs from config/crd/bases, RBAC from config/rbac installed)", d.cp.Server)
	if err := ctx.Err(); err != nil {
		return err
	}

	port := 0
	if v := os.Getenv("DEMO_DEX_PORT"); v != "" {
		if port, err = strconv.Atoi(v); err != nil {
			return fmt.Errorf("DEMO_DEX_PORT=%q: %w", v, err)
		}
	}
	opts := framework.DexOptions{DeviceRequests: 10 * time.Minute, IDTokens: 30 * time.Second}
	if d.auto {
		opts.DeviceRequests = 5 * time.Minute
	}
	d.say("Starting Dex (tokens live %s, so a refresh comes soon)", opts.IDTokens)
	if d.dex, err = framework.StartDex(filepath.Join(d.dir, "dex"), port, opts); err != nil {
		return err
	}
	d.addrs = append(d.addrs, d.dex.Addr)
	d.info("Dex: %s (pid %d, log %s)", d.dex.Issuer, d.dex.Process().Pid(), d.dex.LogPath)
	if err := ctx.Err(); err != nil {
		return err
	}

	d.say("Starting the manager as %s, bound to config/rbac's roles", framework.ManagerUser)
	metricsPort, err := framework.FreePort()
	if err != nil {
		return err
	}
	d.metrics = fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)
	args := slices.DeleteFunc(framework.DefaultManagerArgs(), func(a string) bool { return strings.HasPrefix(a, "--metrics-bind-address") })
	args = append(args, fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", metricsPort), "--metrics-secure=false")
	if d.mgr, err = framework.StartManager(managerBinary, d.cp.ManagerKubeconfigPath,
		filepath.Join(d.dir, "manager.log"), args...); err != nil {
		return err
	}
	d.addrs = append(d.addrs, fmt.Sprintf("127.0.0.1:%d", metricsPort), d.mgr.ProbeAddr)
	if d.mgr.LeaderElectionProblem != "" {
		d.info("WARNING: running without --leader-elect: %s", d.mgr.LeaderElectionProblem)
	}
	d.info("manager: %s %s (pid %d, log %s)", managerBinary, strings.Join(d.mgr.Args, " "), d.mgr.Process().Pid(), d.mgr.LogPath)

	if err := d.apply(ctx); err != nil {
		return err
	}
	dl, err := d.showCode(ctx)
	if err != nil {
		return err
	}
	return d.watch(ctx, dl)
}

// apply creates the namespace, the ClusterOAuthProvider and the DeviceLogin, and waits for the
// provider to be Ready.
func (d *demo) apply(ctx context.Context) error {
	c := d.cp.Client
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		return err
	}
	provider := framework.DexProvider(providerName, d.dex)
	provider.TypeMeta = metav1.TypeMeta{APIVersion: authv1alpha1.GroupVersion.String(), Kind: "ClusterOAuthProvider"}
	dl := framework.NewDeviceLogin(namespace, loginName, providerName)
	dl.TypeMeta = metav1.TypeMeta{APIVersion: authv1alpha1.GroupVersion.String(), Kind: "DeviceLogin"}
	dl.Spec.SecretName = secretName
	dl.Spec.SecretTemplate = &authv1alpha1.SecretTemplate{Data: map[string]string{"authorization": "Bearer {{ .AccessToken }}"}}
	dl.Spec.RolloutRestartTargets = []authv1alpha1.RolloutRestartTarget{{Kind: authv1alpha1.RolloutRestartDeployment, Name: consumer}}
	deploy := consumerDeployment()

	d.say("Applying a ClusterOAuthProvider, a DeviceLogin, and a Deployment that reads the token from an environment variable")
	for _, obj := range []any{provider, dl, deploy} {
		y, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		fmt.Fprintf(d.out, "---\n%s", stripEmpty(string(y)))
	}
	if err := c.Create(ctx, provider); err != nil {
		return fmt.Errorf("creating ClusterOAuthProvider %s: %w", providerName, err)
	}
	if err := c.Create(ctx, dl); err != nil {
		return fmt.Errorf("creating DeviceLogin %s/%s: %w", namespace, loginName, err)
	}
	if err := c.Create(ctx, deploy); err != nil {
		return fmt.Errorf("creating Deployment %s/%s: %w", namespace, consumer, err)
	}
	var last string
	err := poll(ctx, 60*time.Second, func() (bool, error) {
		ok, msg, err := framework.ProviderReady(ctx, c, providerName)
		last = msg
		return ok, err
	})
	if err != nil {
		return fmt.Errorf("ClusterOAuthProvider %s did not become Ready (%s): %w", providerName, last, err)
	}
	d.info("ClusterOAuthProvider %s is Ready", providerName)
	return nil
}

// stripEmpty drops the empty metadata and status YAML that typed objects marshal to.
func stripEmpty(y string) string {
	var keep []string
	for _, line := range strings.Split(y, "\n") {
		t := strings.TrimSpace(line)
		if t == "creationTimestamp: null" || t == "status: {}" || t == "includeRefreshToken: false" || t == "revokeOnDelete: false" {
			continue
		}
		if strings.HasPrefix(line, "status:") {
			break
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n") + "\n"
}

// showCode waits for the user code and its event, then prints what an admin needs.
func (d *demo) showCode(ctx context.Context) (*authv1alpha1.DeviceLogin, error) {
	dl := &authv1alpha1.DeviceLogin{}
	err := poll(ctx, 60*time.Second, func() (bool, error) {
		if err := d.cp.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: loginName}, dl); err != nil {
			return false, err
		}
		if dl.Status.UserCode == "" {
			return false, nil
		}
		events, err := framework.EventsFor(ctx, d.cp.Client, namespace, "DeviceLogin", loginName)
		return len(framework.EventsWithReason(events, "UserCodeIssued")) > 0, err
	})
	if err != nil {
		return nil, fmt.Errorf("no user code with a UserCodeIssued event for DeviceLogin %s/%s (%s): %w", namespace, loginName, readyText(dl), err)
	}

	d.say("kubectl describe devicelogin %s -n %s", loginName, namespace)
	out, err := framework.Kubectl(ctx, d.cp.KubeconfigPath, "describe", "devicelogin", loginName, "-n", namespace)
	if err != nil && !errors.Is(err, framework.ErrNoKubectl) {
		d.info("(%v)", err)
		d.info("(trying the fully qualified resource: kubectl describe devicelogins.auth.devicelogin.dev %s -n %s)", loginName, namespace)
		out, err = framework.Kubectl(ctx, d.cp.KubeconfigPath, "describe", "devicelogins.auth.devicelogin.dev", loginName, "-n", namespace)
	}
	switch {
	case errors.Is(err, framework.ErrNoKubectl):
		d.info("(kubectl is not on PATH; the same facts from the DeviceLogin's status and events:)")
		d.printFacts(ctx, dl)
	case err != nil:
		d.info("(kubectl describe failed: %v; the same facts from status:)", err)
		d.printFacts(ctx, dl)
	default:
		fmt.Fprint(d.out, out)
	}
	d.plugin(ctx, "pending", "-A")
	d.plugin(ctx, "show", loginName, "-n", namespace, "--qr")
	d.printInstructions(dl)
	return dl, nil
}

func (d *demo) printFacts(ctx context.Context, dl *authv1alpha1.DeviceLogin) {
	d.info("Ready:            %s", readyText(dl))
	d.info("User code:        %s", dl.Status.UserCode)
	d.info("Verification URI: %s", dl.Status.VerificationURI)
	if dl.Status.VerificationURIComplete != "" {
		d.info("Complete URI:     %s", dl.Status.VerificationURIComplete)
	}
	if t := dl.Status.UserCodeExpiresAt; t != nil {
		d.info("Code expires at:  %s", t.UTC().Format(time.RFC3339))
	}
	events, _ := framework.EventsFor(ctx, d.cp.Client, namespace, "DeviceLogin", loginName)
	for _, e := range events {
		d.info("Event %s %s: %s", e.Type, e.Reason, e.Message)
	}
}

func (d *demo) printInstructions(dl *authv1alpha1.DeviceLogin) {
	bar := strings.Repeat("-", 78)
	fmt.Fprintln(d.out, bar)
	d.printCode(dl)
	fmt.Fprintf(d.out, "Log in as %s with password %q, then grant access.\n", framework.DexLogin, framework.DexPassword)
	fmt.Fprintf(d.out, "Look around with kubectl (cluster admin):\n")
	fmt.Fprintf(d.out, "  export KUBECONFIG=%s\n", d.cp.KubeconfigPath)
	fmt.Fprintf(d.out, "  kubectl get devicelogins -A; kubectl describe devicelogin %s -n %s\n", loginName, namespace)
	fmt.Fprintf(d.out, "Manager log: %s\n", d.mgr.LogPath)
	fmt.Fprintln(d.out, bar)
}

func (d *demo) printCode(dl *authv1alpha1.DeviceLogin) {
	expires := ""
	if t := dl.Status.UserCodeExpiresAt; t != nil {
		expires = ", expires " + t.UTC().Format(time.RFC3339)
	}
	if dl.Status.VerificationURIComplete != "" {
		fmt.Fprintf(d.out, "Open %s\n  (or open %s and enter %s%s)\n", dl.Status.VerificationURIComplete,
			dl.Status.VerificationURI, dl.Status.UserCode, expires)
	} else {
		fmt.Fprintf(d.out, "Open %s and enter %s%s\n", dl.Status.VerificationURI, dl.Status.UserCode, expires)
	}
}

func readyText(dl *authv1alpha1.DeviceLogin) string {
	c := framework.ReadyCondition(dl)
	if c == nil {
		return "no Ready condition yet"
	}
	return fmt.Sprintf("%s %s: %s", c.Status, c.Reason, c.Message)
}

// stop stops the manager, Dex and the control plane, in that order, and checks that nothing
// listens any more. keep leaves the working directory (logs, kubeconfig) in place.
func (d *demo) stop(keep bool) error {
	var errs []error
	if d.mgr != nil {
		errs = append(errs, d.mgr.Stop())
	}
	if d.dex != nil {
		errs = append(errs, d.dex.Stop())
	}
	if d.cp != nil {
		errs = append(errs, d.cp.Stop())
	}
	for _, addr := range d.addrs {
		if framework.Listening(addr) {
			errs = append(errs, fmt.Errorf("%s still accepts connections after the demo stopped", addr))
		}
	}
	err := errors.Join(errs...)
	if d.dir != "" {
		if keep || err != nil {
			d.say("Logs and kubeconfig kept in %s", d.dir)
		} else {
			os.RemoveAll(d.dir)
		}
	}
	if err == nil && len(d.addrs) > 0 {
		d.say("Stopped the manager, Dex, kube-apiserver and etcd; nothing listens on %s any more", strings.Join(d.addrs, ", "))
	}
	return err
}

// poll calls cond every 250 ms until it returns true, fails, or the timeout or ctx ends.
func poll(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		ok, err := cond()
		if err != nil && ctx.Err() == nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
