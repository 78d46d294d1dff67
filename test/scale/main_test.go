package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	t.Setenv("N", "200")
	cfg, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.N != 200 || cfg.Interval != 5*time.Second || cfg.Unrelated != 5000 || cfg.PendingWindow != 30*time.Second {
		t.Errorf("defaults %+v", cfg)
	}
	cfg, err = parseFlags([]string{"-n", "7", "-manager-args", "--max-concurrent-reconciles=8  --zap-log-level=1"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.N != 7 || strings.Join(cfg.ManagerArgs, "|") != "--max-concurrent-reconciles=8|--zap-log-level=1" {
		t.Errorf("flags %+v", cfg)
	}
	for _, bad := range [][]string{{"-n", "0"}, {"-interval", "500ms"}, {"-token-lifetime", "30s"}, {"-nonsense"}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestMachineFacts(t *testing.T) {
	if l := loadavg(); len(strings.Fields(l)) != 3 {
		t.Errorf("loadavg %q", l)
	}
	bin := filepath.Join(t.TempDir(), "manager")
	t.Setenv("MANAGER_BINARY", bin)
	if c := commit(); c != "unknown" {
		t.Errorf("commit of a missing binary: %q", c)
	}
	self, err := os.Executable() // a test binary carries no VCS stamp: the repository's HEAD
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("MANAGER_BINARY", self)
	if c := commit(); !strings.Contains(c, "the repository's HEAD") || len(c) < 40 {
		t.Errorf("commit of a binary without VCS information: %q", c)
	}
}
