package loadsim // import "github.com/phoenix/platform/cli/loadsim"

import "syscall"

// workerProcAttr makes the kernel kill a worker when its parent dies, and
// puts it in its own process group so a terminal's Ctrl-C reaches only
// loadsim, which then stops the workers in order.
func workerProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
