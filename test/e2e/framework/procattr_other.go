//go:build !linux && !windows

package framework

import "syscall"

// ChildProcAttr puts a child into its own process group.
func ChildProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
