package processrollup // import "github.com/phoenix/platform/processors/processrollup"

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/phoenix/platform/processors/contract/processmetrics"
)

// Errors returned by validation. group_by errors are wrapped with the
// offending entry's key (group_by::<index>).
var (
	ErrNonPositiveTTL       = errors.New("process_ttl must be positive")
	ErrNonPositiveMaxGroups = errors.New("max_groups must be positive")
	ErrEmptyGroupBy         = errors.New("attribute name must not be empty")
	ErrDuplicateGroupBy     = errors.New("duplicate attribute")
	ErrGroupByPID           = errors.New(processmetrics.AttrPID + " would make one group per process: leave those processes to process_topk")
	ErrGroupByMarker        = errors.New("marker attributes are internal to Phoenix and removed before output")
)

// Config is the process_rollup configuration.
type Config struct {
	// GroupBy names the resource attributes whose values split the rolled-up
	// processes into groups. host.name is always part of a group's key when
	// present, so the default (empty) makes one group per host.
	GroupBy []string `mapstructure:"group_by"`
	// ProcessTTL evicts a process's last counter values once it has not been
	// seen for this long, and a group once it has not been emitted for this
	// long. It bounds the processor's memory.
	ProcessTTL time.Duration `mapstructure:"process_ttl"`
	// MaxGroups bounds the number of groups held in state. Members of a new
	// group beyond it are dropped and counted (telemetry
	// processor_process_rollup_members_dropped): a safety net against a
	// group_by with unbounded values, not a sampling knob.
	MaxGroups int `mapstructure:"max_groups"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate checks the configuration. Errors name the offending key.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.ProcessTTL <= 0 {
		errs = append(errs, ErrNonPositiveTTL)
	}
	if cfg.MaxGroups <= 0 {
		errs = append(errs, ErrNonPositiveMaxGroups)
	}
	for i, attr := range cfg.GroupBy {
		var err error
		switch {
		case strings.TrimSpace(attr) == "":
			err = ErrEmptyGroupBy
		case attr == processmetrics.AttrPID:
			err = ErrGroupByPID
		case slices.Contains(processmetrics.Markers, attr):
			err = fmt.Errorf("%q: %w", attr, ErrGroupByMarker)
		case slices.Index(cfg.GroupBy, attr) < i:
			err = fmt.Errorf("%w %q", ErrDuplicateGroupBy, attr)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("group_by::%d: %w", i, err))
		}
	}
	return errors.Join(errs...)
}
