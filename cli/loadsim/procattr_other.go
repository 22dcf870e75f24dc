//go:build !linux

package loadsim // import "github.com/phoenix/platform/cli/loadsim"

import "syscall"

// workerProcAttr is unused off Linux: Run refuses to start workers there.
func workerProcAttr() *syscall.SysProcAttr { return nil }
