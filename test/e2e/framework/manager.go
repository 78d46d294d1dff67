package framework

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// DefaultManagerArgs are the flags a deployment gives the manager (config/manager), plus the
// highest log verbosity so that the secrets-in-logs check sees every line the manager can write.
func DefaultManagerArgs() []string {
	return []string{
		"--leader-elect",
		"--cluster-resource-namespace=" + OperatorNamespace,
		"--metrics-bind-address=0",
		"--zap-log-level=10",
	}
}

// Manager is the manager binary running as a process.
type Manager struct {
	Binary     string
	Kubeconfig string
	Args       []string
	LogPath    string
	// ProbeAddr is where /healthz and /readyz answer.
	ProbeAddr string
	// LeaderElectionProblem is set when --leader-elect was asked for but the manager could not
	// start with it, and runs without it.
	LeaderElectionProblem string
	proc                  *Process
	logStart              int64 // the log's size when the current run started
}

// StartManager runs binary with args and KUBECONFIG=kubeconfig, appending its output to logPath,
// and waits until it answers /readyz. Unless args set --health-probe-bind-address, the probes
// listen on a free port of 127.0.0.1.
func StartManager(binary, kubeconfig, logPath string, args ...string) (*Manager, error) {
	m := &Manager{Binary: binary, Kubeconfig: kubeconfig, Args: append([]string(nil), args...), LogPath: logPath}
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--health-probe-bind-address="); ok {
			m.ProbeAddr = v
		}
	}
	if m.ProbeAddr == "" {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		m.ProbeAddr = fmt.Sprintf("127.0.0.1:%d", port)
		m.Args = append(m.Args, "--health-probe-bind-address="+m.ProbeAddr)
	}
	err := m.Start()
	if errors.Is(err, ErrNoLeaderElectionNamespace) && slices.Contains(m.Args, "--leader-elect") {
		// Leader election cannot work outside a Pod with this binary. Run without it, so that
		// everything else can still be checked, and say so: LeaderElectionProblem fails a spec.
		m.LeaderElectionProblem = err.Error()
		m.Args = slices.DeleteFunc(m.Args, func(a string) bool { return a == "--leader-elect" })
		err = m.Start()
	}
	return m, err
}

// ErrNoLeaderElectionNamespace says that the manager exited because it found no namespace for its
// leader-election lease outside a cluster.
var ErrNoLeaderElectionNamespace = errors.New("the manager cannot find its leader-election namespace outside a cluster " +
	"(\"unable to find leader election namespace: not running in-cluster\"): main.go should set " +
	"ctrl.Options.LeaderElectionNamespace, e.g. from POD_NAMESPACE or --cluster-resource-namespace")

// Start starts the manager (again, after Stop or Kill) with the same flags and log file.
func (m *Manager) Start() error {
	if m.proc != nil {
		if exited, _ := m.proc.Exited(); !exited {
			return errors.New("the manager is already running")
		}
	}
	// POD_NAMESPACE as the Deployment sets it; the manager runs outside a Pod here.
	m.logStart = 0
	if fi, err := os.Stat(m.LogPath); err == nil {
		m.logStart = fi.Size()
	}
	env := []string{"KUBECONFIG=" + m.Kubeconfig, "POD_NAMESPACE=" + OperatorNamespace}
	p, err := startProcess("manager", m.LogPath, env, m.Binary, m.Args...)
	if err != nil {
		return err
	}
	m.proc = p
	if err := waitHTTP(context.Background(), "http://"+m.ProbeAddr+"/readyz", p, 60*time.Second); err != nil {
		return errors.Join(err, m.Kill(), m.explainExit())
	}
	return nil
}

// explainExit turns a known early exit into advice.
func (m *Manager) explainExit() error {
	log, _ := os.ReadFile(m.LogPath)
	if int64(len(log)) >= m.logStart {
		log = log[m.logStart:]
	}
	if strings.Contains(string(log), "please specify LeaderElectionNamespace") {
		return ErrNoLeaderElectionNamespace
	}
	return nil
}

// Process is the running manager process (nil before Start).
func (m *Manager) Process() *Process { return m.proc }

// Stop sends SIGTERM and waits for a graceful exit (up to 20 s, then SIGKILL).
func (m *Manager) Stop() error {
	if m == nil || m.proc == nil {
		return nil
	}
	if err := m.proc.Stop(20 * time.Second); err != nil {
		return err
	}
	return waitPortFree(m.ProbeAddr)
}

// Kill sends SIGKILL: the manager gets no chance to clean up or release its lease.
func (m *Manager) Kill() error {
	if m == nil || m.proc == nil {
		return nil
	}
	if err := m.proc.Kill(); err != nil {
		return err
	}
	return waitPortFree(m.ProbeAddr)
}

// Log is the manager's log so far (every run).
func (m *Manager) Log() (string, error) {
	data, err := os.ReadFile(m.LogPath)
	return string(data), err
}

// LeaderAcquisitions counts how often the manager's runs became leader, from the log.
func (m *Manager) LeaderAcquisitions() int {
	log, _ := m.Log()
	return strings.Count(strings.ToLower(log), "successfully acquired lease")
}
