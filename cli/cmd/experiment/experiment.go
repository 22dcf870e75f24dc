// Package experiment implements `phoenix experiment`: A/B pipeline
// experiments on the fleet.
package experiment // import "github.com/phoenix/platform/cli/cmd/experiment"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/opamp-server/apitypes"
)

// NewCmd returns the experiment command group.
func NewCmd(ios *cmdutil.IOStreams) *cobra.Command {
	client := &cmdutil.ClientOptions{}
	cmd := &cobra.Command{
		Use:   "experiment",
		Short: "Run A/B pipeline experiments: prove what a candidate saves, then roll it out or back",
		Long: `An experiment compares a candidate pipeline with a baseline on the agents a
selector picks. In paired mode (the default) every agent runs both side by side
from one process scrape, the candidate in shadow; in split mode the agents are
divided into two cohorts. The server deploys, waits for every agent to apply,
measures after a warm-up, analyses (series, datapoints, bytes, critical
processes, cost per price model) and returns every agent to its previous
configuration unless you promote the candidate.

Lifecycle: pending → deploying → running → analyzing → completed | failed | cancelled.`,
	}
	cmdutil.AddClientFlags(cmd, client)
	cmd.AddCommand(
		newCmdCreate(ios, client),
		newCmdAction(ios, client, "start", "Start a pending experiment"),
		newCmdAction(ios, client, "stop", "Cancel an experiment; its agents get their previous configurations back"),
		newCmdAction(ios, client, "promote", "Assign a completed experiment's candidate to its agents for good"),
		newCmdAction(ios, client, "rollback", "Give an experiment's agents the configurations they had before it"),
		newCmdList(ios, client),
		newCmdStatus(ios, client),
		newCmdWatch(ios, client),
		newCmdResults(ios, client),
		newCmdReport(ios, client),
	)
	return cmd
}

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
	Candidate      string
	Params         []string
	BaselineParams []string
	CandParams     []string
	Duration       time.Duration
	Warmup         time.Duration
	MinReduction   float64
	Format         cmdutil.Format
}

func newCmdCreate(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions) *cobra.Command {
	opts := &CreateOptions{IO: ios, Client: client}
	cmd := &cobra.Command{
		Use:   "create (-f SPEC | --name NAME --selector SEL --candidate PIPELINE [flags])",
		Short: "Create an experiment from a spec file or from flags",
		Long: `Create an experiment from a YAML or JSON spec (see docs/experiments.md), or build
one from flags. Flags given with -f override the file's values.`,
		Example: `  phoenix experiment create -f experiment.yaml --start
  phoenix experiment create --name web-topk --selector 'env=staging,host.name=~web-.*' \
      --baseline baseline --candidate topk-rollup --candidate-param k=15 \
      --param collection_interval=30s --duration 30m --warmup 5m --min-series-reduction 0.8 --start`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return RunCreate(cmd.Context(), opts, cmd.Flags().Changed) },
	}
	f := cmd.Flags()
	f.StringVarP(&opts.File, "file", "f", "", "experiment spec (YAML or JSON)")
	f.BoolVar(&opts.Start, "start", false, "start the experiment right away")
	f.StringVar(&opts.Name, "name", "", "experiment name")
	f.StringVarP(&opts.Selector, "selector", "l", "", "target agents, e.g. env=staging,host.name=~web-.*")
	f.StringVar(&opts.Mode, "mode", "", "paired (default) or split")
	f.StringVar(&opts.Baseline, "baseline", "", `baseline pipeline, or "current" for each agent's current assignment`)
	f.StringVar(&opts.Candidate, "candidate", "", "candidate pipeline")
	f.StringArrayVarP(&opts.Params, "param", "p", nil, "shared collector parameter key=value (repeatable)")
	f.StringArrayVar(&opts.BaselineParams, "baseline-param", nil, "baseline pipeline parameter key=value (repeatable)")
	f.StringArrayVar(&opts.CandParams, "candidate-param", nil, "candidate pipeline parameter key=value (repeatable)")
	f.DurationVar(&opts.Duration, "duration", 0, "measurement duration after warm-up")
	f.DurationVar(&opts.Warmup, "warmup", 0, "warm-up before measuring (default 1m)")
	f.Float64Var(&opts.MinReduction, "min-series-reduction", 0, "success criterion: least fraction of series removed (0.9 = 90%)")
	cmdutil.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// RunCreate builds the spec and creates the experiment.
func RunCreate(ctx context.Context, opts *CreateOptions, changed func(string) bool) error {
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
	if err := opts.overlay(&spec, changed); err != nil {
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

// overlay applies flags onto the spec.
func (o *CreateOptions) overlay(s *apitypes.ExperimentSpec, changed func(string) bool) error {
	set := func(flag string, apply func()) {
		if changed(flag) {
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
	set("candidate", func() { s.Candidate.Pipeline = o.Candidate })
	set("duration", func() { s.Duration = apitypes.Duration(o.Duration) })
	set("warmup", func() { s.Warmup = apitypes.Duration(o.Warmup) })
	set("min-series-reduction", func() { s.SuccessCriteria.MinSeriesReduction = o.MinReduction })
	for _, p := range []struct {
		flags []string
		dst   *map[string]any
	}{{o.Params, &s.Parameters}, {o.BaselineParams, &s.Baseline.Parameters}, {o.CandParams, &s.Candidate.Parameters}} {
		if len(p.flags) == 0 {
			continue
		}
		parsed, err := cmdutil.ParseParams(p.flags, "")
		if err != nil {
			return err
		}
		if *p.dst == nil {
			*p.dst = map[string]any{}
		}
		for k, v := range parsed {
			(*p.dst)[k] = v
		}
	}
	if s.Baseline.Pipeline == "" && !s.Baseline.Current {
		s.Baseline.Pipeline = "baseline"
	}
	return nil
}

func newCmdAction(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions, action, short string) *cobra.Command {
	var format cmdutil.Format
	cmd := &cobra.Command{
		Use:     action + " ID",
		Short:   short,
		Example: "  phoenix experiment " + action + " exp-3f2a9c1b7d4e",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client.Client()
			if err != nil {
				return err
			}
			x, err := c.ExperimentAction(cmd.Context(), args[0], action)
			if err != nil {
				return fmt.Errorf("%s %s: %w", action, args[0], err)
			}
			if format != cmdutil.FormatTable {
				return cmdutil.WriteStructured(ios.Out, format, x)
			}
			fmt.Fprintf(ios.Out, "%s: %s (%s)\n", x.ID, action, x.Status)
			return nil
		},
	}
	cmdutil.AddFormatFlag(cmd, &format)
	return cmd
}

func newCmdList(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions) *cobra.Command {
	var format cmdutil.Format
	var status []apitypes.ExperimentStatus
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List experiments",
		Example: "  phoenix experiment list\n  phoenix experiment list --status running,deploying -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client.Client()
			if err != nil {
				return err
			}
			xs, err := c.Experiments(cmd.Context(), status...)
			if err != nil {
				return fmt.Errorf("listing experiments: %w", err)
			}
			if format != cmdutil.FormatTable {
				if xs == nil {
					xs = []apitypes.Experiment{} // [], not null, for jq and friends
				}
				return cmdutil.WriteStructured(ios.Out, format, xs)
			}
			if len(xs) == 0 {
				fmt.Fprintln(ios.ErrOut, "no experiments")
				return nil
			}
			w := tabwriter.NewWriter(ios.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAME\tMODE\tSTATUS\tPROGRESS\tTARGETS\tVERDICT\tCREATED")
			for _, x := range xs {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%3.0f%%\t%d\t%s\t%s\n", x.ID, x.Name, x.Spec.Mode, x.Status, 100*x.Progress,
					len(x.State.Targets), cmdutil.Or(x.State.Verdict, "-"), x.CreatedAt.Local().Format(time.DateTime))
			}
			return w.Flush()
		},
	}
	cmd.Flags().Var((*statusList)(&status), "status", "only experiments with these statuses, comma-separated ("+statusNames()+")")
	cmdutil.AddFormatFlag(cmd, &format)
	return cmd
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

// statusList is the --status flag: known lifecycle statuses only.
type statusList []apitypes.ExperimentStatus

func (l *statusList) String() string {
	names := make([]string, len(*l))
	for i, s := range *l {
		names[i] = string(s)
	}
	return strings.Join(names, ",")
}

func (l *statusList) Set(v string) error {
	for name := range strings.SplitSeq(v, ",") {
		s := apitypes.ExperimentStatus(strings.TrimSpace(name))
		if !slices.Contains(apitypes.ExperimentStatuses(), s) {
			return fmt.Errorf("unknown status %q (valid: %s)", s, statusNames())
		}
		*l = append(*l, s)
	}
	return nil
}

func (l *statusList) Type() string { return "statuses" }

func statusNames() string {
	var names []string
	for _, s := range apitypes.ExperimentStatuses() {
		names = append(names, string(s))
	}
	return strings.Join(names, ", ")
}
