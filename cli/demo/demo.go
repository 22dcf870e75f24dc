// Package demo runs the whole Phoenix loop on this machine with nothing
// installed: the control plane in process, an OpAMP supervisor with
// phoenix-collector, simulated load, and a paired experiment of the
// recommended pipeline against what users run today. `phoenix demo` is its
// command; this is what the command runs.
package demo // import "github.com/phoenix/platform/cli/demo"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/phoenix/platform/cli/loadsim"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/receivers/processsim/profiles"
)

// Options say what the demo runs and where it reports.
type Options struct {
	// Duration is how long the experiment measures, after Warmup.
	Duration time.Duration
	Warmup   time.Duration
	// Profile is the load profile; Candidate the pipeline set against the
	// baseline.
	Profile   string
	Candidate string
	// Report is the file the HTML report is written to.
	Report string
	// KeepRunning leaves everything running, once the results are out,
	// until ctx ends.
	KeepRunning bool
	// Dir is the working directory; empty means a temporary one, removed
	// afterwards.
	Dir string

	// Progress receives the steps, the experiment's live line and, when the
	// demo fails, what the collector was doing; nil discards them.
	Progress io.Writer
	// Results receives the experiment's results once the report is written;
	// nil drops them.
	Results func(apitypes.Results) error
}

// Run executes the demo and stops everything it started before returning.
// Errors name the flags of `phoenix demo` they concern.
func Run(ctx context.Context, opts Options) error {
	if opts.Duration < apitypes.MinDuration {
		return fmt.Errorf("--duration must be at least %s (rates need two whole minutes of samples), got %s", apitypes.MinDuration, opts.Duration)
	}
	if _, err := profiles.Get(opts.Profile); err != nil {
		return fmt.Errorf("--profile: %w", err)
	}
	bins, err := findBinaries()
	if err != nil {
		return err
	}
	dir, cleanup, err := workDir(opts.Dir)
	if err != nil {
		return err
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	d := &demo{opts: opts, bins: bins, dir: dir, progress: opts.Progress}
	defer func() {
		d.stop()
		if !opts.KeepRunning {
			cleanup()
		}
	}()
	err = d.run(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		d.printFailureContext()
	}
	return err
}

// binaries the demo runs.
type binaries struct {
	phoenix, collector, supervisor, worker string
}

// findBinaries looks next to this executable first, then in ./bin.
func findBinaries() (binaries, error) {
	self, err := os.Executable()
	if err != nil {
		return binaries{}, err
	}
	dirs := []string{filepath.Dir(self), "bin"}
	find := func(name string) (string, error) {
		for _, d := range dirs {
			p := filepath.Join(d, name)
			if _, err := os.Stat(p); err == nil {
				return filepath.Abs(p)
			}
		}
		return "", fmt.Errorf("%s not found next to phoenix or in ./bin: run `make build`", name)
	}
	b := binaries{phoenix: self}
	if b.collector, err = find("phoenix-collector"); err != nil {
		return b, err
	}
	if b.supervisor, err = find("opampsupervisor"); err != nil {
		return b, err
	}
	// The load's workers: checked now rather than found missing in
	// loadsim's log minutes later.
	if b.worker, err = find(loadsim.WorkerBinary); err != nil {
		return b, err
	}
	return b, nil
}

func workDir(dir string) (string, func(), error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", nil, err
		}
		return dir, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", "phoenix-demo-")
	if err != nil {
		return "", nil, err
	}
	return tmp, func() { _ = os.RemoveAll(tmp) }, nil
}

func step(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "==> "+format+"\n", args...)
}
