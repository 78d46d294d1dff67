package main

import (
	"os/exec"
	"testing"
	"time"
)

func TestReadUsageAndResetPeak(t *testing.T) {
	// A child that touches 64 MiB, then drops it and waits: its peak stays until reset.
	cmd := exec.Command("/bin/sh", "-c", `x=$(head -c 67108864 /dev/zero | tr '\0' a); unset x; read line`)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid

	var u procUsage
	deadline := time.Now().Add(30 * time.Second)
	for {
		if u, err = readUsage(pid); err != nil {
			t.Fatal(err)
		}
		if u.PeakRSS >= 64<<20 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if u.PeakRSS < 64<<20 {
		t.Fatalf("peak RSS %s, want at least 64 MiB", mib(u.PeakRSS))
	}
	// Wait until the shell dropped the string, then reset: the peak falls to what is resident.
	var after procUsage
	for {
		if err := resetPeak(pid); err != nil {
			t.Fatal(err)
		}
		if after, err = readUsage(pid); err != nil {
			t.Fatal(err)
		}
		if after.PeakRSS < 32<<20 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if after.PeakRSS >= 32<<20 {
		t.Errorf("peak RSS after reset %s, want far below 64 MiB", mib(after.PeakRSS))
	}
	if after.CPU <= 0 {
		t.Errorf("CPU seconds %v after copying 64 MiB", after.CPU)
	}
}

func TestReadUsageOfNoProcess(t *testing.T) {
	if _, err := readUsage(1 << 30); err == nil {
		t.Errorf("reading a process that cannot exist succeeded")
	}
	if err := resetPeak(1 << 30); err == nil {
		t.Errorf("resetting a process that cannot exist succeeded")
	}
}
