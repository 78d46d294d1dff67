package framework

import "syscall"

// ChildProcAttr puts a child into its own process group and has the kernel kill it when the
// program that started it dies.
func ChildProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
