package main

import (
	"fmt"
	"os"

	"github.com/prometheus/procfs"
)

// procUsage is what the kernel counted for a process.
type procUsage struct {
	// PeakRSS is VmHWM in bytes: the most resident memory since the start or the last resetPeak.
	PeakRSS uint64
	// CPU is user plus system time in seconds (utime+stime of /proc/PID/stat).
	CPU float64
}

// readUsage reads /proc/PID/status and /proc/PID/stat.
func readUsage(pid int) (procUsage, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return procUsage{}, err
	}
	status, err := p.NewStatus()
	if err != nil {
		return procUsage{}, fmt.Errorf("reading /proc/%d/status: %w", pid, err)
	}
	stat, err := p.Stat()
	if err != nil {
		return procUsage{}, fmt.Errorf("reading /proc/%d/stat: %w", pid, err)
	}
	return procUsage{PeakRSS: status.VmHWM, CPU: stat.CPUTime()}, nil
}

// resetPeak sets the process's VmHWM back to its current RSS (Linux 4.0 and later), so that the
// next readUsage shows the peak of what follows only.
func resetPeak(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// mib formats bytes in MiB.
func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
