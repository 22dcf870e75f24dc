// Package demo implements `phoenix demo`: Phoenix on this host, end to end,
// with nothing to install.
//
// Until the experiment controller lands, the demo runs phoenix-collector
// locally with two pipelines fed by one process scrape, the baseline and
// Phoenix's recommended chain, and compares what each exported.
package demo // import "github.com/phoenix/platform/cli/cmd/demo"

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/pipelines/distribution"
	"github.com/phoenix/platform/pipelines/localrun"
)

//go:embed collector.yaml.tmpl
var configTemplate string

// processors is the recommended chain, in pipeline order.
var processors = []string{"process_critical", "process_topk", "process_rollup"}

// Options are the flags of `phoenix demo`.
type Options struct {
	IO        *cmdutil.IOStreams
	Collector string
	Duration  time.Duration
	Interval  time.Duration
	Dir       string
	Keep      bool
	Format    cmdutil.Format
}

// NewCmd returns the demo command.
func NewCmd(ios *cmdutil.IOStreams) *cobra.Command {
	opts := &Options{IO: ios}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run Phoenix on this host and show what it saves",
		Long: `Run phoenix-collector on this host with two pipelines fed by the same
process scrape: the baseline (every process, as exported today) and Phoenix's
recommended processor chain. When the run ends, compare what each exported:
processes, series and datapoints, and the critical processes kept.

Nothing needs installing: the demo writes its configuration and output to a
temporary directory and removes it afterwards unless --keep is given.`,
		Example: `  phoenix demo
  phoenix demo --duration 1m --interval 5s --keep
  phoenix demo -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Collector, "collector", "", "phoenix-collector binary (default: next to phoenix, then bin/)")
	cmd.Flags().DurationVar(&opts.Duration, "duration", 30*time.Second, "how long to collect")
	cmd.Flags().DurationVar(&opts.Interval, "interval", 5*time.Second, "process scrape interval")
	cmd.Flags().StringVar(&opts.Dir, "dir", "", "working directory for config and output (default: a temporary one)")
	cmd.Flags().BoolVar(&opts.Keep, "keep", false, "keep the working directory")
	cmdutil.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// Run executes the demo.
func Run(ctx context.Context, opts *Options) error {
	if opts.Duration < opts.Interval {
		return fmt.Errorf("--duration (%s) must be at least one --interval (%s)", opts.Duration, opts.Interval)
	}
	binary, err := findCollector(opts.Collector)
	if err != nil {
		return err
	}
	dir, cleanup, err := workDir(opts.Dir, opts.Keep)
	if err != nil {
		return err
	}
	defer cleanup()

	port, err := localrun.FreePort()
	if err != nil {
		return err
	}
	configPath := filepath.Join(dir, "collector.yaml")
	if err := writeConfig(configPath, dir, port, opts.Interval); err != nil {
		return err
	}
	if err := distribution.ValidateFile(ctx, configPath); err != nil {
		return fmt.Errorf("demo configuration: %w", err)
	}

	progress := opts.IO.ErrOut
	fmt.Fprintf(progress, "Running %s on this host for %s (scrape every %s)\n", binary, opts.Duration, opts.Interval)
	col, err := localrun.Start(localrun.Options{
		Binary: binary, ConfigPath: configPath,
		HealthURL: fmt.Sprintf("http://127.0.0.1:%d/", port),
	})
	if err != nil {
		return err
	}
	defer col.Stop(10 * time.Second) //nolint:errcheck // a second Stop after the explicit one is a no-op

	readyCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := col.WaitHealthy(readyCtx); err != nil {
		return err
	}
	fmt.Fprintf(progress, "  collector ready in %s\n", time.Since(start).Round(time.Millisecond))

	if err := waitWithProgress(ctx, col, opts.Duration, progress); err != nil {
		return err
	}
	if err := col.Stop(10 * time.Second); err != nil {
		return fmt.Errorf("collector shutdown: %w\n%s", err, col.Log())
	}

	report, err := buildReport(dir)
	if err != nil {
		return err
	}
	if opts.Keep {
		fmt.Fprintf(progress, "Output kept in %s\n", dir)
	}
	return printReport(opts, report)
}

func waitWithProgress(ctx context.Context, col *localrun.Collector, d time.Duration, w io.Writer) error {
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return nil
		}
		fmt.Fprintf(w, "  collecting... %s left\n", left.Round(time.Second))
		select {
		case <-ctx.Done():
			return fmt.Errorf("demo interrupted: %w", ctx.Err())
		case <-col.Done():
			return fmt.Errorf("collector exited early (%v):\n%s", col.ExitErr(), col.Log())
		case <-time.After(min(left, 5*time.Second)):
		}
	}
}

func writeConfig(path, dir string, healthPort int, interval time.Duration) error {
	tmpl, err := template.New("collector").Parse(configTemplate)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return tmpl.Execute(f, map[string]any{
		"HealthPort": healthPort,
		"Interval":   interval.String(),
		"Dir":        dir,
		"Processors": strings.Join(processors, ", "),
	})
}

// findCollector resolves the collector binary: the flag, then next to this
// executable, then ./bin.
func findCollector(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	var candidates []string
	if self, err := os.Executable(); err == nil {
		candidates = append(candidates, filepath.Join(filepath.Dir(self), "phoenix-collector"))
	}
	candidates = append(candidates, filepath.Join("bin", "phoenix-collector"))
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return c, nil
		}
	}
	return "", errors.New("phoenix-collector not found next to phoenix or in ./bin: run `make build` or pass --collector")
}

func workDir(dir string, keep bool) (string, func(), error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", nil, err
		}
		return dir, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", "phoenix-demo-")
	if err != nil {
		return "", nil, err
	}
	if keep {
		return tmp, func() {}, nil
	}
	return tmp, func() { _ = os.RemoveAll(tmp) }, nil
}
