package experiment // import "github.com/phoenix/platform/cli/cmd/experiment"

import (
	"fmt"
	"strings"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/pipelines/catalog"
)

// candidateFlag is one --candidate PIPELINE[:key=value,...] as given.
type candidateFlag struct {
	flag     string
	pipeline string
	params   map[string]any
}

// parseCandidateFlag reads PIPELINE[:key=value,...]; the values are YAML,
// as with --candidate-param.
func parseCandidateFlag(flag string) (candidateFlag, error) {
	pipeline, rest, hasParams := strings.Cut(flag, ":")
	pipeline = strings.TrimSpace(pipeline)
	c := candidateFlag{flag: flag, pipeline: pipeline}
	if pipeline == "" {
		return c, fmt.Errorf("--candidate %q: want PIPELINE[:key=value,...]", flag)
	}
	if !hasParams {
		return c, nil
	}
	params, err := cmdutil.ParseParams(splitParams(rest), "")
	if err != nil {
		return c, fmt.Errorf("--candidate %q: %w", flag, err)
	}
	c.params = params
	return c, nil
}

// splitParams splits "k=5,rank_by=[cpu, memory]" at the commas outside
// brackets, braces and quotes, so a YAML list or map stays one value.
func splitParams(s string) []string {
	var out []string
	depth, start := 0, 0
	var quote rune
	for i, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			quote = r
		case r == '[' || r == '{':
			depth++
		case r == ']' || r == '}':
			depth--
		case r == ',' && depth <= 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// applyCandidates sets the spec's candidates from the --candidate flags:
// one keeps the single form (its parameters and --candidate-param merged
// into candidate.parameters), two or more make spec.candidates, named as
// the server would name them so that a collision is reported here.
func (o *CreateOptions) applyCandidates(s *apitypes.ExperimentSpec) error {
	given := o.changed != nil && o.changed("candidate")
	if !given {
		if len(o.CandParams) > 0 && len(s.Candidates) > 0 {
			return fmt.Errorf("--candidate-param: the spec has several candidates; put each one's parameters after its pipeline: --candidate pipeline:k=v")
		}
		return o.mergeParams(o.CandParams, &s.Candidate.Parameters)
	}
	if len(o.Candidates) > apitypes.MaxCandidates {
		return fmt.Errorf("--candidate: %d given, at most %d candidates per experiment", len(o.Candidates), apitypes.MaxCandidates)
	}
	flags := make([]candidateFlag, len(o.Candidates))
	for i, raw := range o.Candidates {
		c, err := parseCandidateFlag(raw)
		if err != nil {
			return err
		}
		flags[i] = c
	}
	if len(flags) == 1 {
		s.Candidates = nil
		s.Candidate.Pipeline = flags[0].pipeline
		mergeInto(flags[0].params, &s.Candidate.Parameters)
		return o.mergeParams(o.CandParams, &s.Candidate.Parameters)
	}
	if len(o.CandParams) > 0 {
		return fmt.Errorf("--candidate-param: %d candidates given; put each one's parameters after its pipeline: --candidate %s:%s",
			len(flags), flags[0].pipeline, strings.Join(o.CandParams, ","))
	}
	// The flags replace any candidate of the file: either form, not both.
	s.Candidate = apitypes.Variant{}
	s.Candidates = make([]apitypes.NamedVariant, len(flags))
	byName := map[string]int{}
	for i, c := range flags {
		name := catalog.CandidateName(c.pipeline, c.params)
		if j, dup := byName[strings.ToLower(name)]; dup {
			return fmt.Errorf("--candidate %q and --candidate %q are both named %q: give them different pipelines or parameters",
				flags[j].flag, c.flag, name)
		}
		byName[strings.ToLower(name)] = i
		s.Candidates[i] = apitypes.NamedVariant{Name: name, Pipeline: c.pipeline, Parameters: c.params}
	}
	return nil
}

// mergeParams parses key=value flags into *dst.
func (o *CreateOptions) mergeParams(flags []string, dst *map[string]any) error {
	if len(flags) == 0 {
		return nil
	}
	parsed, err := cmdutil.ParseParams(flags, "")
	if err != nil {
		return err
	}
	mergeInto(parsed, dst)
	return nil
}

func mergeInto(params map[string]any, dst *map[string]any) {
	if len(params) == 0 {
		return
	}
	if *dst == nil {
		*dst = map[string]any{}
	}
	for k, v := range params {
		(*dst)[k] = v
	}
}
