package loadsim // import "github.com/phoenix/platform/cli/loadsim"

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// WorkerBinary is the worker's file name: `make build` puts it in bin/
// next to phoenix.
const WorkerBinary = "phoenix-loadworker"

// WorkerOverheadMB is what a worker costs beyond the memory it holds, in
// MiB, rounded up: about 0.8 MiB of private memory (the Go runtime, thread
// stacks) and a share of the 1.4 MiB binary every worker maps.
// cli/loadworker's tests hold it to 2 MiB.
const WorkerOverheadMB = 1

// ErrNoWorker is returned by FindWorker when no worker binary is found.
var ErrNoWorker = errors.New(WorkerBinary + " not found")

// FindWorker returns the worker binary to run: override when given (the
// --worker flag), else phoenix-loadworker next to this executable, else in
// ./bin.
func FindWorker(override string) (string, error) {
	if override != "" {
		if err := checkExecutable(override); err != nil {
			return "", fmt.Errorf("--worker %s: %w", override, err)
		}
		return override, nil
	}
	var tried []string
	if exe, err := os.Executable(); err == nil {
		if resolved, err := filepath.EvalSymlinks(exe); err == nil {
			exe = resolved
		}
		tried = append(tried, filepath.Join(filepath.Dir(exe), WorkerBinary))
	}
	tried = append(tried, filepath.Join("bin", WorkerBinary))
	for _, path := range tried {
		if checkExecutable(path) == nil {
			return filepath.Abs(path)
		}
	}
	return "", fmt.Errorf("%w (looked for %s): build it with `make build` (or `make loadworker`), or give its path with --worker",
		ErrNoWorker, strings.Join(tried, " and "))
}

func checkExecutable(path string) error {
	info, err := os.Stat(path)
	switch {
	case err != nil:
		return err
	case info.IsDir():
		return fmt.Errorf("is a directory")
	case info.Mode().Perm()&0o111 == 0:
		return fs.ErrPermission
	}
	return nil
}

// workerArgs is a worker's argv: the simulated name first, so the process
// and its command line read like the simulated one, then the worker's
// flags, then the simulated arguments for show.
func workerArgs(name, commandLine string, parent int, cores, memMB float64) []string {
	args := []string{
		name,
		"--parent=" + strconv.Itoa(parent),
		"--name=" + name,
		"--cores=" + strconv.FormatFloat(cores, 'f', 4, 64),
		"--memory-mb=" + strconv.FormatFloat(memMB, 'f', 1, 64),
		"--",
	}
	if fields := strings.Fields(commandLine); len(fields) > 1 {
		args = append(args, fields[1:]...)
	}
	return args
}

// workerEnv is a worker's environment: the Go runtime settings of an idle
// process from its first instruction (the worker sets them again itself,
// but only once it runs), and nothing of ours.
func workerEnv(cores float64) []string {
	return []string{
		"GOMAXPROCS=" + strconv.Itoa(max(1, int(math.Ceil(cores)))),
		"GOGC=off",
		"GOMEMLIMIT=32MiB",
	}
}
