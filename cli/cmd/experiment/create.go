package experiment // import "github.com/phoenix/platform/cli/cmd/experiment"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/opamp-server/apitypes"
)

// CreateOptions are the inputs of `phoenix experiment create`.
type CreateOptions struct {
	IO             *cmdutil.IOStreams
	Client         *cmdutil.ClientOptions
	File           string
	Start          bool
	Name           string
	Selector       string
	Mode           string
	Baseline       string
	Candidates     []string
	Params         []string
	BaselineParams []string
	CandParams     []string
	Duration       time.Duration
	Warmup         time.Duration
	MinReduction   float64
	MinCPUCoverage float64
	MaxBlindSpots  float64
	Format         cmdutil.Format
	// changed reports whether a flag was given: only those override the
	// spec file.
	changed func(name string) bool
}

// NewCmdCreate returns `phoenix experiment create`. runF, when not nil, runs
// instead of runCreate, so a test can see the options the flags make.
func NewCmdCreate(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions, runF func(context.Context, *CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{IO: ios, Client: client}
	cmd := &cobra.Command{
		Use:   "create (-f SPEC | --name NAME --selector SEL --candidate PIPELINE [flags])",
		Short: "Create an experiment from a spec file or from flags",
		Long: `Create an experiment from a YAML or JSON spec (see docs/experiments.md), or build
one from flags. Flags given with -f override the file's values.

--candidate PIPELINE[:key=value,...] names the candidate and, after a colon,
its parameters (YAML values, comma-separated; --candidate-param adds more).
Repeat --candidate to compare up to 4 candidates with the baseline at once
(paired mode): each runs in shadow beside the baseline, is named after its
pipeline and parameters (topk-rollup:k=5 is topk-rollup-k5), and the results
rank them and recommend the cheapest that meets every criterion. With several
candidates, put each one's parameters after its pipeline, not in
--candidate-param; promote one with 'phoenix experiment promote ID --candidate NAME'.`,
		Example: `  phoenix experiment create -f experiment.yaml --start
  phoenix experiment create --name web-topk --selector 'env=staging,host.name=~web-.*' \
      --baseline baseline --candidate topk-rollup --candidate-param k=15 \
      --param collection_interval=30s --duration 30m --warmup 5m --min-series-reduction 0.8 --start
  # also require 95% of the processes' CPU in per-process series and at most
  # 2 busy or large processes per agent-hour hidden in rollups
  phoenix experiment create -f experiment.yaml --min-cpu-coverage 0.95 --max-blind-spots-per-hour 2
  # compare three candidates at once; the results rank them
  phoenix experiment create --name web-k --selector env=staging --duration 30m --min-series-reduction 0.8 \
      --candidate topk-rollup:k=5 --candidate topk-rollup:k=10 --candidate topk:k=10 --start`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.changed = cmd.Flags().Changed
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runCreate(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.File, "file", "f", "", "experiment spec (YAML or JSON)")
	f.BoolVar(&opts.Start, "start", false, "start the experiment right away")
	f.StringVar(&opts.Name, "name", "", "experiment name")
	f.StringVarP(&opts.Selector, "selector", "l", "", "target agents, e.g. env=staging,host.name=~web-.*")
	f.StringVar(&opts.Mode, "mode", "", "paired (default) or split")
	f.StringVar(&opts.Baseline, "baseline", "", `baseline pipeline, or "current" for each agent's current assignment`)
	f.StringArrayVar(&opts.Candidates, "candidate", nil, "candidate pipeline, PIPELINE[:key=value,...]; repeat it to compare up to\n"+
		fmt.Sprintf("%d candidates at once (paired mode)", apitypes.MaxCandidates))
	f.StringArrayVarP(&opts.Params, "param", "p", nil, "shared collector parameter key=value (repeatable)")
	f.StringArrayVar(&opts.BaselineParams, "baseline-param", nil, "baseline pipeline parameter key=value (repeatable)")
	f.StringArrayVar(&opts.CandParams, "candidate-param", nil, "candidate pipeline parameter key=value (repeatable)")
	f.DurationVar(&opts.Duration, "duration", 0, "measurement duration after warm-up")
	f.DurationVar(&opts.Warmup, "warmup", 0, "warm-up before measuring (default 1m)")
	f.Float64Var(&opts.MinReduction, "min-series-reduction", 0, "success criterion: least fraction of series removed (0.9 = 90%)")
	f.Float64Var(&opts.MinCPUCoverage, "min-cpu-coverage", 0, "success criterion: least share of the processes' CPU time the candidate\n"+
		"keeps in per-process series rather than in rollups (0.95 = 95%); paired mode\n"+
		"compares with the baseline's total, split mode with the candidate's own (an\n"+
		"upper bound). Needs collectors that export fidelity figures; else not judged")
	f.Float64Var(&opts.MaxBlindSpots, "max-blind-spots-per-hour", 0, "success criterion: most blind spots per agent and hour, i.e. processes the\n"+
		"baseline saw notable (busy on CPU or large in memory) that the candidate did\n"+
		"not export on their own (0 = none allowed); paired mode only, not judged in split")
	cmdutil.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// runCreate builds the spec, from the file and the flags given, and creates
// the experiment.
func runCreate(ctx context.Context, opts *CreateOptions) error {
	var spec apitypes.ExperimentSpec
	if opts.File != "" {
		raw, err := os.ReadFile(opts.File)
		if err != nil {
			return err
		}
		if spec, err = decodeSpec(raw); err != nil {
			return fmt.Errorf("%s: %w", opts.File, err)
		}
	}
	if err := opts.overlay(&spec); err != nil {
		return err
	}
	c, err := opts.Client.Client()
	if err != nil {
		return err
	}
	x, err := c.CreateExperiment(ctx, spec, opts.Start)
	if err != nil {
		return fmt.Errorf("creating experiment: %w", err)
	}
	if opts.Format != cmdutil.FormatTable {
		return cmdutil.WriteStructured(opts.IO.Out, opts.Format, x)
	}
	fmt.Fprintf(opts.IO.Out, "%s\n", x.ID)
	next := "phoenix experiment start " + x.ID
	if opts.Start {
		next = "phoenix experiment watch " + x.ID
	}
	fmt.Fprintf(opts.IO.ErrOut, "created experiment %q (%s); next: %s\n", x.Name, x.Status, next)
	return nil
}

// overlay applies the flags given onto the spec.
func (o *CreateOptions) overlay(s *apitypes.ExperimentSpec) error {
	set := func(flag string, apply func()) {
		if o.changed != nil && o.changed(flag) {
			apply()
		}
	}
	set("name", func() { s.Name = o.Name })
	set("selector", func() { s.Targets.Selector = o.Selector })
	set("mode", func() { s.Mode = apitypes.Mode(o.Mode) })
	set("baseline", func() {
		s.Baseline.Pipeline, s.Baseline.Current = o.Baseline, false
		if o.Baseline == "current" {
			s.Baseline.Pipeline, s.Baseline.Current = "", true
		}
	})
	set("duration", func() { s.Duration = apitypes.Duration(o.Duration) })
	set("warmup", func() { s.Warmup = apitypes.Duration(o.Warmup) })
	set("min-series-reduction", func() { s.SuccessCriteria.MinSeriesReduction = o.MinReduction })
	if o.changed != nil && o.changed("min-cpu-coverage") {
		if c := o.MinCPUCoverage; !(c >= 0 && c <= 1) {
			return fmt.Errorf("--min-cpu-coverage: must be a fraction between 0 and 1 (0.95 = 95%%), got %g", c)
		}
		s.SuccessCriteria.MinCPUCoverage = &o.MinCPUCoverage
	}
	if o.changed != nil && o.changed("max-blind-spots-per-hour") {
		if m := o.MaxBlindSpots; !(m >= 0 && m <= math.MaxFloat64) {
			return fmt.Errorf("--max-blind-spots-per-hour: must be a finite number ≥ 0, got %g", m)
		}
		s.SuccessCriteria.MaxBlindSpotsPerHour = &o.MaxBlindSpots
	}
	if err := o.mergeParams(o.Params, &s.Parameters); err != nil {
		return err
	}
	if err := o.mergeParams(o.BaselineParams, &s.Baseline.Parameters); err != nil {
		return err
	}
	if err := o.applyCandidates(s); err != nil {
		return err
	}
	if s.Baseline.Pipeline == "" && !s.Baseline.Current {
		s.Baseline.Pipeline = "baseline"
	}
	return nil
}

// decodeSpec reads a spec file strictly, so a misspelt key is reported here
// with its line; the server fills in defaults and validates the values.
func decodeSpec(raw []byte) (apitypes.ExperimentSpec, error) {
	var s apitypes.ExperimentSpec
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) {
		return apitypes.ExperimentSpec{}, fmt.Errorf("experiment spec: %w", err)
	}
	return s, nil
}
