package profiles // import "github.com/phoenix/platform/receivers/processsim/profiles"

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/phoenix/platform/receivers/processsim/population"
)

// ErrParamsNeedCustom is returned when parameters are applied to a profile
// other than custom: a named profile means the same thing everywhere.
var ErrParamsNeedCustom = errors.New(`parameters only apply to the "custom" profile`)

// Params are the custom profile's parameters, keyed like a profile file's
// fields (single values, no ranges). A nil field keeps the value in
// custom.yaml. Both the process_sim receiver (its `custom:` section) and
// `phoenix loadsim` (its flags) set them.
type Params struct {
	// Processes is the population size.
	Processes *int `mapstructure:"processes" json:"processes,omitempty" yaml:"processes,omitempty"`
	// Daemons is how many processes never exit; at least len(CriticalNames).
	Daemons *int `mapstructure:"daemons" json:"daemons,omitempty" yaml:"daemons,omitempty"`
	// StartsPerSecond is the churn rate.
	StartsPerSecond *float64 `mapstructure:"starts_per_second" json:"starts_per_second,omitempty" yaml:"starts_per_second,omitempty"`
	// CPU sets the CPU distribution.
	CPU CPUParams `mapstructure:"cpu" json:"cpu,omitzero" yaml:"cpu,omitempty"`
	// CriticalNames replace the critical daemons' names.
	CriticalNames []string `mapstructure:"critical_names" json:"critical_names,omitempty" yaml:"critical_names,omitempty"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// CPUParams set the custom profile's CPU distribution; see CPU.
type CPUParams struct {
	BusyFraction *float64 `mapstructure:"busy_fraction" json:"busy_fraction,omitempty" yaml:"busy_fraction,omitempty"`
	BusyCores    *float64 `mapstructure:"busy_cores" json:"busy_cores,omitempty" yaml:"busy_cores,omitempty"`
	IdleCores    *float64 `mapstructure:"idle_cores" json:"idle_cores,omitempty" yaml:"idle_cores,omitempty"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// IsZero reports whether no parameter is set.
func (pa *Params) IsZero() bool {
	return pa.Processes == nil && pa.Daemons == nil && pa.StartsPerSecond == nil &&
		pa.CPU.BusyFraction == nil && pa.CPU.BusyCores == nil && pa.CPU.IdleCores == nil && pa.CriticalNames == nil
}

// Apply returns the profile with the parameters set. Parameters are only
// valid on the custom profile; the result is validated, with errors naming
// the parameter's key.
func (p Profile) Apply(pa Params) (Profile, error) {
	if pa.IsZero() {
		return p, nil
	}
	if p.Name != Custom {
		return Profile{}, fmt.Errorf("%w, not to %q", ErrParamsNeedCustom, p.Name)
	}
	if pa.Processes != nil {
		p.Processes = Fixed(*pa.Processes)
	}
	if pa.CriticalNames != nil {
		p.CriticalNames = slices.Clone(pa.CriticalNames)
		// Critical names need daemons to carry them; grow the default.
		p.Daemons = max(p.Daemons, len(p.CriticalNames))
	}
	if pa.Daemons != nil {
		p.Daemons = *pa.Daemons
	}
	if pa.StartsPerSecond != nil {
		p.StartsPerSecond = Fixed(*pa.StartsPerSecond)
	}
	setIf(&p.CPU.BusyFraction, pa.CPU.BusyFraction)
	setIf(&p.CPU.BusyCores, pa.CPU.BusyCores)
	setIf(&p.CPU.IdleCores, pa.CPU.IdleCores)
	if err := p.Validate(); err != nil {
		return Profile{}, err
	}
	return p, nil
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// Resolved is a profile fixed for one run: its ranges resolved by the seed.
type Resolved struct {
	// Profile is the profile's name.
	Profile string
	// Seed drives both the resolution and the population.
	Seed uint64
	// Spec is the population to simulate.
	Spec population.Spec
}

// resolveStream separates the draws that resolve ranges from the
// population's own draws made with the same seed.
const resolveStream = 0x70726f66696c6573 // "profiles"

// Resolve fixes the profile's ranges for seed (0 means the profile's own
// seed): the same profile and seed always give the same spec.
func (p Profile) Resolve(seed uint64) (Resolved, error) {
	if seed == 0 {
		seed = p.Seed
	}
	rng := rand.New(rand.NewPCG(seed, resolveStream))
	spec := population.Spec{
		Processes:          p.Processes.pick(rng),
		Daemons:            p.Daemons,
		CriticalNames:      slices.Clone(p.CriticalNames),
		StartsPerSecond:    p.StartsPerSecond.pick(rng),
		BusyFraction:       p.CPU.BusyFraction,
		BusyCores:          p.CPU.BusyCores,
		IdleCores:          p.CPU.IdleCores,
		CPUNoise:           p.CPU.Noise,
		MinMemoryMB:        p.Memory.MinMB,
		MaxMemoryMB:        p.Memory.MaxMB,
		UniqueCommandLines: p.UniqueCommandLines,
		PIDMax:             p.PIDMax,
	}
	if err := spec.Validate(); err != nil {
		return Resolved{}, fmt.Errorf("profile %q: %w", p.Name, err)
	}
	return Resolved{Profile: p.Name, Seed: seed, Spec: spec}, nil
}
