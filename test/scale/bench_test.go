package main

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/devicelogin-dev/devicelogin-operator/test/e2e/framework"
)

// TestSmoke runs every phase with three DeviceLogins and short windows (about three minutes):
// every figure is measured, and everything started is stopped. It needs the envtest binaries
// and the manager binary, like the e2e suite, so it runs only when BENCH_SCALE_SMOKE=1.
func TestSmoke(t *testing.T) {
	if os.Getenv("BENCH_SCALE_SMOKE") != "1" {
		t.Skip("set BENCH_SCALE_SMOKE=1 (with KUBEBUILDER_ASSETS and MANAGER_BINARY or bin/manager) to run the benchmark's smoke test")
	}
	cfg := config{N: 3, Seed: 1, Interval: 5 * time.Second, TokenLifetime: time.Minute, IdleWindow: 3 * time.Second,
		PendingWindow: 11 * time.Second, Unrelated: 20, UnrelatedBytes: 100, Workers: 4, PhaseTimeout: 2 * time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	ctrllog.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	res := &results{N: cfg.N, TokenLifetime: cfg.TokenLifetime}
	b := &bench{cfg: cfg, res: res, say: t.Logf, createdAt: map[client.ObjectKey]time.Time{}}
	if err := b.setup(ctx); err != nil {
		t.Fatal(errors.Join(err, b.stop()))
	}
	for _, phase := range []func(context.Context){b.flows, b.idle, b.pending, b.refresh, b.memory} {
		phase(ctx)
	}
	addrs := append(b.cp.ListenAddrs(), b.mgr.ProbeAddr)
	if err := b.stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
	for _, a := range addrs {
		if framework.Listening(a) {
			t.Errorf("%s still listens after stop", a)
		}
	}
	if _, err := os.Stat(b.dir); !os.IsNotExist(err) {
		t.Errorf("work directory %s left behind", b.dir)
	}

	for _, x := range res.rows() {
		if x.Operator == "n/a" {
			t.Errorf("%q not measured", x.Figure)
		}
	}
	if res.Secrets != 3 || res.NaiveTokens != 3 || res.Op.Codes != 3 || res.Naive.Codes != 3 ||
		len(res.Op.Excess) != 3 || len(res.CreateToUserCode) != 3 {
		t.Errorf("flows: %+v", res)
	}
	if res.PendingTraffic.Polls < 3 || res.PendingCodes != 3 || res.Refreshes != 3 || res.RefreshedGrants != 3 {
		t.Errorf("pending %+v, refreshes %d of %d", res.PendingTraffic, res.Refreshes, res.RefreshedGrants)
	}
	if res.RSSFlows == 0 || res.RSSRestart == 0 || res.RSSRestartUnrelated == 0 || len(res.CPU) != 7 {
		t.Errorf("memory %d %d %d, CPU %v", res.RSSFlows, res.RSSRestart, res.RSSRestartUnrelated, res.CPU)
	}
	var out strings.Builder
	res.write(&out)
	t.Logf("\n%s", out.String())
}
