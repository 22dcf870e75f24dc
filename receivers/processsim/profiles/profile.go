// Package profiles holds Phoenix's load-simulation profiles: named, seeded
// descriptions of a host's process population (how many processes, how fast
// they churn, how their CPU and memory are spread, which critical daemons run).
//
// Profiles are data: one YAML file each, embedded here. Both load simulators
// use them: the process_sim receiver emits a profile as synthetic scrapes, and
// `phoenix loadsim` runs it as real OS processes. Resolve turns a profile and a
// seed into a population.Spec, deterministically.
package profiles // import "github.com/phoenix/platform/receivers/processsim/profiles"

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Profile is one load-simulation profile, as its YAML file describes it.
// docs/load-simulation.md documents every field.
type Profile struct {
	// Name identifies the profile; it matches the file name.
	Name string `yaml:"name" json:"name"`
	// Description says what kind of host the profile stands for.
	Description string `yaml:"description" json:"description"`
	// Seed makes runs reproducible; a caller's non-zero seed replaces it.
	Seed uint64 `yaml:"seed" json:"seed"`
	// Processes is the steady-state population size.
	Processes Range[int] `yaml:"processes" json:"processes"`
	// Daemons are long-lived processes that never exit; part of Processes.
	Daemons int `yaml:"daemons" json:"daemons"`
	// CriticalNames name the first daemons' executables (e.g. postgres), so
	// critical-process rules always have something to keep.
	CriticalNames []string `yaml:"critical_names" json:"critical_names"`
	// StartsPerSecond is the churn: each start replaces an exiting process.
	StartsPerSecond Range[float64] `yaml:"starts_per_second" json:"starts_per_second"`
	// CPU spreads CPU use over the processes.
	CPU CPU `yaml:"cpu" json:"cpu"`
	// Memory bounds each process's resident memory.
	Memory Memory `yaml:"memory" json:"memory"`
	// UniqueCommandLines gives every process a distinct command line, the
	// worst case for series cardinality.
	UniqueCommandLines bool `yaml:"unique_command_lines" json:"unique_command_lines"`
	// PIDMax is where simulated PIDs wrap; 0 means Linux's 64-bit default.
	PIDMax int64 `yaml:"pid_max,omitempty" json:"pid_max,omitempty"`
}

// CPU is a profile's CPU distribution: a few busy processes, heavy-tailed
// below BusyCores, and the rest idle below IdleCores.
type CPU struct {
	// BusyFraction is the share of processes that are busy, in [0, 1].
	BusyFraction float64 `yaml:"busy_fraction" json:"busy_fraction"`
	// BusyCores is the most CPU, in cores, a busy process uses.
	BusyCores float64 `yaml:"busy_cores" json:"busy_cores"`
	// IdleCores is the most CPU, in cores, an idle process uses.
	IdleCores float64 `yaml:"idle_cores" json:"idle_cores"`
	// Noise varies each process's CPU use per step by up to ±Noise, in [0, 1).
	Noise float64 `yaml:"noise" json:"noise"`
}

// Memory bounds resident memory; sizes are log-uniform in between.
type Memory struct {
	MinMB float64 `yaml:"min_mb" json:"min_mb"`
	MaxMB float64 `yaml:"max_mb" json:"max_mb"`
}

// maxNameLen is Linux's limit on a process name (the comm field), so a
// critical name means the same to the simulator and to the real scraper.
const maxNameLen = 15

// Parse strictly decodes and validates one profile: unknown keys, a missing
// required field or an inconsistent value are errors naming the key.
func Parse(data []byte) (Profile, error) {
	var p Profile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		if errors.Is(err, io.EOF) {
			return Profile{}, errors.New("empty profile")
		}
		return Profile{}, err
	}
	if err := p.Validate(); err != nil {
		return Profile{}, err
	}
	return p, nil
}

// Validate reports every invalid field, each error naming its key.
func (p *Profile) Validate() error {
	var errs []error
	fail := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if p.Name == "" {
		fail("name", "is required")
	}
	if p.Seed == 0 {
		fail("seed", "is required and must not be 0")
	}
	procMin, procMax := boundKeys("processes", p.Processes)
	if p.Processes.Min < 1 {
		fail(procMin, "must be at least 1, got %d", p.Processes.Min)
	}
	if p.Processes.Max < p.Processes.Min {
		fail(procMax, "must be at least %s (%d), got %d", procMin, p.Processes.Min, p.Processes.Max)
	}
	if p.Daemons < 0 || p.Daemons > p.Processes.Min {
		fail("daemons", "must be between 0 and %s (%d), got %d", procMin, p.Processes.Min, p.Daemons)
	}
	if len(p.CriticalNames) > p.Daemons {
		fail("critical_names", "has %d names but only %d daemons to give them", len(p.CriticalNames), p.Daemons)
	}
	for i, name := range p.CriticalNames {
		if err := validName(name); err != nil {
			fail(fmt.Sprintf("critical_names[%d]", i), "%v", err)
		}
	}
	startsMin, startsMax := boundKeys("starts_per_second", p.StartsPerSecond)
	if p.StartsPerSecond.Min < 0 {
		fail(startsMin, "must not be negative, got %g", p.StartsPerSecond.Min)
	}
	if p.StartsPerSecond.Max < p.StartsPerSecond.Min {
		fail(startsMax, "must be at least %s (%g), got %g", startsMin, p.StartsPerSecond.Min, p.StartsPerSecond.Max)
	}
	if p.StartsPerSecond.Max > 0 && p.Daemons >= p.Processes.Min && p.Processes.Min >= 1 {
		fail("daemons", "churn needs processes that can exit: daemons (%d) must be below %s (%d)", p.Daemons, procMin, p.Processes.Min)
	}
	if p.CPU.BusyFraction < 0 || p.CPU.BusyFraction > 1 {
		fail("cpu.busy_fraction", "must be within [0, 1], got %g", p.CPU.BusyFraction)
	}
	if p.CPU.BusyCores < 0 {
		fail("cpu.busy_cores", "must not be negative, got %g", p.CPU.BusyCores)
	}
	if p.CPU.IdleCores < 0 {
		fail("cpu.idle_cores", "must not be negative, got %g", p.CPU.IdleCores)
	}
	if p.CPU.Noise < 0 || p.CPU.Noise >= 1 {
		fail("cpu.noise", "must be within [0, 1), got %g", p.CPU.Noise)
	}
	if p.Memory.MinMB <= 0 {
		fail("memory.min_mb", "must be positive, got %g", p.Memory.MinMB)
	}
	if p.Memory.MaxMB < p.Memory.MinMB {
		fail("memory.max_mb", "must be at least memory.min_mb (%g), got %g", p.Memory.MinMB, p.Memory.MaxMB)
	}
	if p.PIDMax != 0 && p.PIDMax <= int64(p.Processes.Max)+1 {
		fail("pid_max", "must exceed %s (%d) + 1, got %d", procMax, p.Processes.Max, p.PIDMax)
	}
	return errors.Join(errs...)
}

// boundKeys names a range's bounds for errors: "key.min" and "key.max", or
// just "key" when it was written as one number.
func boundKeys[T int | float64](key string, r Range[T]) (minKey, maxKey string) {
	if r.Min == r.Max {
		return key, key
	}
	return key + ".min", key + ".max"
}

func validName(name string) error {
	switch {
	case name == "":
		return errors.New("must not be empty")
	case len(name) > maxNameLen:
		return fmt.Errorf("%q is longer than Linux's %d-character process name limit", name, maxNameLen)
	case strings.ContainsAny(name, "/ \t\n\x00"):
		return fmt.Errorf("%q must not contain '/' or whitespace", name)
	}
	return nil
}
