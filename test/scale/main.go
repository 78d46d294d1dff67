// Command scale is the scale benchmark of issue 12 (`make bench-scale`): it runs the manager
// binary against a local control plane and the strict test provider (internal/testidp) with N
// DeviceLogins created at once, beside a naive golang.org/x/oauth2 client with the same
// approval times, and prints one markdown table of the figures and the goals.
//
// Phases, in order: flows (N logins and N naive flows, each code approved 0.5–4.5 s after it was
// issued), idle (nothing due), pending (N more logins nobody approves), refresh (every token of
// the flows refreshed once), memory (the manager restarted without and with unrelated Secrets).
// Everything it starts listens on 127.0.0.1 and is stopped at the end, on Ctrl-C, or when
// -timeout passes.
package main

import (
	"context"
	"debug/buildinfo"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/devicelogin-dev/devicelogin-operator/test/e2e/framework"
)

// config is the command line.
type config struct {
	N                         int
	Seed                      uint64
	Interval, TokenLifetime   time.Duration
	IdleWindow, PendingWindow time.Duration
	Unrelated, UnrelatedBytes int
	Workers                   int
	PhaseTimeout, Timeout     time.Duration
	ManagerArgs               []string
	MemoryLimit               string
	Keep                      bool
	Out                       string
	Commit                    string
}

func parseFlags(args []string) (config, error) {
	var cfg config
	defN := 1000
	if v, err := strconv.Atoi(os.Getenv("N")); err == nil && v > 0 {
		defN = v
	}
	var managerArgs string
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	fs.IntVar(&cfg.N, "n", defN, "DeviceLogins (and naive flows) created at once; default $N, else 1000")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of the approval offsets")
	fs.DurationVar(&cfg.Interval, "interval", 5*time.Second, "the provider's polling interval")
	fs.DurationVar(&cfg.TokenLifetime, "token-lifetime", 10*time.Minute, "access token lifetime; the refresh phase waits for it")
	fs.DurationVar(&cfg.IdleWindow, "idle-window", 20*time.Second, "how long to count requests with nothing due")
	fs.DurationVar(&cfg.PendingWindow, "pending-window", 30*time.Second, "how long to count requests while codes are pending")
	fs.IntVar(&cfg.Unrelated, "unrelated-secrets", 5000, "unrelated Secrets for the memory phase; 0 skips that phase")
	fs.IntVar(&cfg.UnrelatedBytes, "unrelated-secret-bytes", 4096, "size of each unrelated Secret")
	fs.IntVar(&cfg.Workers, "workers", 16, "goroutines that create objects")
	fs.DurationVar(&cfg.PhaseTimeout, "phase-timeout", 5*time.Minute, "longest wait of a phase for the operator")
	fs.DurationVar(&cfg.Timeout, "timeout", 30*time.Minute, "the whole run, setup and teardown aside")
	fs.StringVar(&managerArgs, "manager-args", "", "extra manager flags, space-separated")
	fs.StringVar(&cfg.MemoryLimit, "memory-limit", "", "the manager's MEMORY_LIMIT, as the downward API sets it from "+
		"the container's limits.memory (the manager gives 90% of it to the Go runtime); default: config/manager's limit; none: unset")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the work directory (manager and control plane logs)")
	fs.StringVar(&cfg.Out, "out", "", "also write the report to this file")
	fs.StringVar(&cfg.Commit, "commit", "", "the commit the manager binary was built from, for the report; "+
		"default: its VCS stamp, else the repository's HEAD")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	cfg.ManagerArgs = strings.Fields(managerArgs)
	if cfg.N < 1 || cfg.Workers < 1 || cfg.Interval < time.Second || cfg.TokenLifetime < time.Minute {
		return cfg, fmt.Errorf("need -n ≥ 1, -workers ≥ 1, -interval ≥ 1s and -token-lifetime ≥ 1m")
	}
	return cfg, nil
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Exit(run(cfg))
}

// run runs every phase and prints the report, also after a Ctrl-C or the timeout (what was
// measured by then); it returns the exit code.
func run(cfg config) int {
	started := time.Now()
	ctrllog.SetLogger(zap.New(zap.WriteTo(io.Discard))) // the benchmark's own watches have nothing to say
	say := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "%s bench-scale: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	// Teardown gets two minutes after the run ends; after that nothing is waited for.
	go func() {
		<-ctx.Done()
		time.Sleep(2 * time.Minute)
		say("teardown hangs; exiting (the manager dies with this process)")
		os.Exit(3)
	}()

	res := &results{N: cfg.N, Started: started, LoadStart: loadavg(), TokenLifetime: cfg.TokenLifetime, Commit: cfg.Commit}
	if res.Commit == "" {
		res.Commit = commit()
	}
	b := &bench{cfg: cfg, res: res, say: say, createdAt: map[client.ObjectKey]time.Time{}}
	code := 0
	if err := b.setup(ctx); err != nil {
		say("setup failed: %v", err)
		code = 1
	} else {
		for _, phase := range []func(context.Context){b.flows, b.idle, b.pending, b.refresh} {
			if ctx.Err() != nil {
				break
			}
			phase(ctx)
		}
		if ctx.Err() == nil && cfg.Unrelated > 0 {
			b.memory(ctx)
		}
		if ctx.Err() != nil {
			res.note("the run was cut short (%v): the figures are what was measured by then", context.Cause(ctx))
			code = 1
		}
	}
	say("stopping everything")
	if err := b.stop(); err != nil {
		say("teardown: %v", err)
	}
	res.Elapsed = time.Since(started)
	res.LoadEnd = loadavg()
	res.write(os.Stdout)
	if cfg.Out != "" {
		f, err := os.Create(cfg.Out)
		if err == nil {
			res.write(f)
			err = f.Close()
		}
		if err != nil {
			say("writing %s: %v", cfg.Out, err)
		}
	}
	return code
}

// loadavg is the 1, 5 and 15 minute load average.
func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// commit is the commit the manager binary was built from, by its Go build information, marked
// when that tree had changes; without that information (built with -buildvcs=false) it is the
// repository's HEAD, said so.
func commit() string {
	binary, err := framework.ManagerBinary()
	if err != nil {
		return "unknown"
	}
	if info, err := buildinfo.ReadFile(binary); err == nil {
		var rev, modified string
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if rev != "" && modified == "true" {
			return rev + " (with uncommitted changes)"
		}
		if rev != "" {
			return rev
		}
	}
	root, err := framework.RepoRoot()
	if err != nil {
		return "unknown"
	}
	out, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	rev := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		rev += " with uncommitted changes"
	}
	return rev + " (the repository's HEAD: the binary carries no VCS stamp)"
}
