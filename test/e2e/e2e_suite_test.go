// Package e2e runs the built manager binary as a process against a real kube-apiserver and etcd
// and a real Dex on 127.0.0.1, and approves device codes over HTTP as a person's browser would.
// `make test-e2e` builds what it needs and runs it; the logs of every process are kept under
// test/e2e/_artifacts/.
package e2e

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authv1alpha1 "github.com/devicelogin-dev/devicelogin-operator/api/v1alpha1"
	"github.com/devicelogin-dev/devicelogin-operator/test/e2e/framework"
)

const (
	// testNS holds the suite's DeviceLogins.
	testNS = "e2e"
	// dexProvider is a ClusterOAuthProvider for a Dex whose codes live 5 minutes.
	dexProvider = "dex"
	// shortCodesProvider is a ClusterOAuthProvider for a second Dex whose codes live 20 seconds.
	shortCodesProvider = "dex-short-codes"
	shortCodeLifetime  = 20 * time.Second
)

var (
	artifacts string
	root      string
	cp        *framework.ControlPlane
	k8s       client.Client
	dex       *framework.Dex
	dexShort  *framework.Dex
	mgr       *framework.Manager
	seen      = &secretValues{values: map[string]string{}}
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "End-to-end Suite")
}

var _ = BeforeSuite(func() {
	var err error
	root, err = framework.RepoRoot()
	Expect(err).NotTo(HaveOccurred())
	artifacts = filepath.Join(root, "test", "e2e", "_artifacts", time.Now().UTC().Format("20060102-150405"))
	Expect(os.MkdirAll(artifacts, 0o750)).To(Succeed())
	fmt.Fprintf(GinkgoWriter, "Logs of the control plane users, Dex and the manager: %s\n", artifacts)
	AddReportEntry("artifacts", artifacts)

	managerBinary, err := framework.ManagerBinary()
	Expect(err).NotTo(HaveOccurred())

	By("starting kube-apiserver and etcd with the CRDs and config/rbac")
	cp, err = framework.StartControlPlane(filepath.Join(artifacts, "controlplane"))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(cp.Stop()).To(Succeed()) })
	k8s = cp.Client

	By("starting Dex twice: codes that live 5 minutes, and codes that live 20 seconds")
	dex, err = framework.StartDex(filepath.Join(artifacts, "dex"), 0, framework.DexOptions{IDTokens: 30 * time.Second})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(dex.Stop()).To(Succeed()) })
	dexShort, err = framework.StartDex(filepath.Join(artifacts, "dex-short-codes"), 0,
		framework.DexOptions{DeviceRequests: shortCodeLifetime, IDTokens: 30 * time.Second})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(dexShort.Stop()).To(Succeed()) })

	By("starting the manager binary as " + framework.ManagerUser)
	mgr, err = framework.StartManager(managerBinary, cp.ManagerKubeconfigPath, filepath.Join(artifacts, "manager.log"),
		framework.DefaultManagerArgs()...)
	Expect(err).NotTo(HaveOccurred())
	// Stopped before the control plane (DeferCleanup runs last in, first out): an open watch
	// slows the API server's shutdown.
	DeferCleanup(func() { Expect(mgr.Stop()).To(Succeed()) })
	if mgr.LeaderElectionProblem != "" {
		fmt.Fprintf(GinkgoWriter, "WARNING: the manager runs without --leader-elect: %s\n", mgr.LeaderElectionProblem)
	}

	ctx := context.Background()
	Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNS}})).To(Succeed())
	for name, d := range map[string]*framework.Dex{dexProvider: dex, shortCodesProvider: dexShort} {
		Expect(k8s.Create(ctx, framework.DexProvider(name, d))).To(Succeed())
	}
	for _, name := range []string{dexProvider, shortCodesProvider} {
		Eventually(func(g Gomega) {
			ok, msg, err := framework.ProviderReady(ctx, k8s, name)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(ok).To(BeTrue(), "ClusterOAuthProvider %s: %s", name, msg)
		}, 60*time.Second, 250*time.Millisecond).Should(Succeed())
	}

	// Every token, refresh token and device code the operator holds is remembered (never
	// printed), so that the last spec can search the manager's log for them.
	watchCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		seen.watch(watchCtx, k8s, testNS)
	}()
	DeferCleanup(func() { stop(); <-done })
})

// secretValues remembers the sensitive values seen in the operator's Secrets, by value, with a
// label that says what they were ("ci-bot-devicelogin-state/refresh_token"). Only labels are ever
// printed.
type secretValues struct {
	mu     sync.Mutex
	values map[string]string // value -> label
}

// sensitiveKeys are the Secret keys whose values must never reach a log.
var sensitiveKeys = []string{"access_token", "refresh_token", "id_token", "device_code"}

func (s *secretValues) record(secret *corev1.Secret) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range sensitiveKeys {
		if v := string(secret.Data[k]); len(v) >= 8 {
			if _, ok := s.values[v]; !ok {
				s.values[v] = secret.Name + "/" + k
			}
		}
	}
}

// watch records the operator's Secrets (label auth.devicelogin.dev/devicelogin) every 200 ms.
func (s *secretValues) watch(ctx context.Context, c client.Client, namespace string) {
	for ctx.Err() == nil {
		list := &corev1.SecretList{}
		if err := c.List(ctx, list, client.InNamespace(namespace), client.HasLabels{authv1alpha1.DeviceLoginLabel}); err == nil {
			for i := range list.Items {
				s.record(&list.Items[i])
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// leaks returns the labels of the remembered values that occur in the log, and how many values
// were checked. A value counts as leaked when it occurs as it is, base64-encoded (a Secret's data
// in JSON), or in a hex dump (client-go logs protobuf request and response bodies that way at
// V(8) and above); a JWT also when its payload or its signature alone occurs.
func (s *secretValues) leaks(log string) ([]string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	dumps := hexDumps(log)
	var found []string
	for v, label := range s.values {
		needles := map[string]string{v: "", base64.StdEncoding.EncodeToString([]byte(v)): " (base64-encoded)"}
		if parts := strings.Split(v, "."); len(parts) == 3 {
			needles[parts[1]], needles[parts[2]] = " (its payload)", " (its signature)"
		}
	search:
		for n, how := range needles {
			switch {
			case len(n) < 16:
			case strings.Contains(log, n):
				found = append(found, label+how)
				break search
			case strings.Contains(dumps, n):
				found = append(found, label+how+" in a hex dump of a request or response body")
				break search
			}
		}
	}
	return found, len(s.values)
}

// hexDumpLine is one line of encoding/hex.Dump output: offset, up to 16 bytes, their text.
var hexDumpLine = regexp.MustCompile(`([0-9a-f]{8}) {2}((?:[0-9a-f]{2} {1,2}){1,16}) *\|`)
var hexByte = regexp.MustCompile(`[0-9a-f]{2}`)

// hexDumps decodes every hex dump in the log (whose lines a JSON log writes as \n escapes) and
// returns the bytes, one dump per line.
func hexDumps(log string) string {
	var out strings.Builder
	for _, m := range hexDumpLine.FindAllStringSubmatch(strings.ReplaceAll(log, `\n`, "\n"), -1) {
		if m[1] == "00000000" {
			out.WriteByte('\n')
		}
		for _, h := range hexByte.FindAllString(m[2], -1) {
			b, _ := hex.DecodeString(h)
			out.Write(b)
		}
	}
	return out.String()
}

// count returns how many values with labels ending in suffix were remembered.
func (s *secretValues) count(suffix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, label := range s.values {
		if strings.HasSuffix(label, suffix) {
			n++
		}
	}
	return n
}
