package e2e

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/devicelogin-dev/devicelogin-operator/test/e2e/framework"
)

// The demo prints the addresses it listened on and the pids of its children; these find them.
var (
	demoStopped = regexp.MustCompile(`nothing listens on (.+) any more`)
	demoPids    = regexp.MustCompile(`\(pid (\d+),`)
	demoAddr    = regexp.MustCompile(`127\.0\.0\.1:\d+`)
)

// demoRun is the demo program running, its output collected.
type demoRun struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan error
}

func (r *demoRun) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.Write(p)
}

func (r *demoRun) Output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.String()
}

func startDemo(binary, logName string, env ...string) *demoRun {
	GinkgoHelper()
	log, err := os.Create(filepath.Join(artifacts, logName))
	Expect(err).NotTo(HaveOccurred())
	r := &demoRun{done: make(chan error, 1)}
	r.cmd = exec.Command(binary)
	r.cmd.Dir = root
	r.cmd.Env = append(os.Environ(), env...)
	r.cmd.Stdout = io.MultiWriter(r, log)
	r.cmd.Stderr = io.MultiWriter(r, log)
	r.cmd.SysProcAttr = framework.ChildProcAttr()
	Expect(r.cmd.Start()).To(Succeed())
	go func() { r.done <- r.cmd.Wait(); log.Close() }()
	return r
}

// expectAllStopped checks that what the demo started is gone: its children's pids and the
// addresses it listened on.
func expectAllStopped(out string) {
	GinkgoHelper()
	for _, m := range demoPids.FindAllStringSubmatch(out, -1) {
		pid, _ := strconv.Atoi(m[1])
		Expect(errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)).To(BeTrue(), "process %d the demo started is gone", pid)
	}
	m := demoStopped.FindStringSubmatch(out)
	Expect(m).NotTo(BeNil(), "the demo reports what it stopped")
	addrs := demoAddr.FindAllString(m[1], -1)
	Expect(len(addrs)).To(BeNumerically(">=", 4), "kube-apiserver, etcd, Dex and the manager's probes")
	for _, addr := range addrs {
		Expect(framework.Listening(addr)).To(BeFalse(), "nothing listens on %s after the demo", addr)
	}
}

var _ = Describe("make demo", Ordered, func() {
	var binary string

	BeforeAll(func() {
		dir, err := os.MkdirTemp("", "devicelogin-e2e-demo-")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(os.RemoveAll, dir)
		binary = filepath.Join(dir, "demo")
		build := exec.Command("go", "build", "-o", binary, "./hack/demo")
		build.Dir = root
		out, err := build.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "go build ./hack/demo: %s", out)
	})

	It("approves by itself with DEMO_APPROVE=auto, exits 0 after the first refresh and leaves nothing running", func() {
		started := time.Now()
		r := startDemo(binary, "demo-auto.log", "DEMO_APPROVE=auto", "DEMO_TIMEOUT=4m")
		var err error
		Eventually(r.done, 5*time.Minute).Should(Receive(&err))
		out := r.Output()
		Expect(err).NotTo(HaveOccurred(), "the demo failed; its output:\n%s", out)
		AddReportEntry("make demo DEMO_APPROVE=auto (the program alone)", time.Since(started).Round(time.Second).String())
		Expect(out).To(ContainSubstring("export KUBECONFIG="))
		Expect(out).To(ContainSubstring(framework.DexLogin))
		Expect(out).To(MatchRegexp(`Open http://127\.0\.0\.1:\d+/dex/device`))
		Expect(out).To(ContainSubstring("Approved by"))
		Expect(out).To(MatchRegexp(`holds the keys .*access_token.*\(values not shown\)`))
		Expect(out).To(ContainSubstring("Token refreshed at"))
		expectAllStopped(out)
	})

	It("stops everything on Ctrl-C while it waits for a person to approve", func() {
		r := startDemo(binary, "demo-interrupt.log", "DEMO_APPROVE=")
		Eventually(r.Output, 90*time.Second, 200*time.Millisecond).Should(ContainSubstring("Waiting for approval"),
			func() string { return r.Output() })
		Expect(r.cmd.Process.Signal(os.Interrupt)).To(Succeed())
		var err error
		Eventually(r.done, 60*time.Second).Should(Receive(&err))
		out := r.Output()
		Expect(err).NotTo(HaveOccurred(), "the demo exits 0 on Ctrl-C; its output:\n%s", out)
		Expect(out).To(ContainSubstring("Interrupted"))
		expectAllStopped(out)
	})
})
