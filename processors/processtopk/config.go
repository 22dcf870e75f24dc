package processtopk // import "github.com/phoenix/platform/processors/processtopk"

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// RankKey names what processes are ranked by.
type RankKey string

const (
	// RankCPU ranks by CPU rate: CPU seconds per second between scrapes.
	RankCPU RankKey = "cpu"
	// RankMemory ranks by resident memory (process.memory.usage).
	RankMemory RankKey = "memory"
)

// Others is what happens to the processes that are not kept.
type Others string

const (
	// OthersRollup marks them for process_rollup, which aggregates them.
	OthersRollup Others = "rollup"
	// OthersDrop removes them.
	OthersDrop Others = "drop"
)

// Configuration errors. Each names the offending key.
var (
	ErrNonPositiveK         = errors.New("k must be at least 1")
	ErrNoRankKeys           = errors.New("rank_by must name at least one key")
	ErrUnknownRankKey       = errors.New(`rank_by: unknown key (want "cpu" or "memory")`)
	ErrDuplicateRankKey     = errors.New("rank_by: duplicate key")
	ErrUnknownOthers        = errors.New(`others must be "rollup" or "drop"`)
	ErrNonPositiveExitAfter = errors.New("exit_after must be at least 1 (1 disables hysteresis)")
	ErrIncumbentMargin      = errors.New("incumbent_margin must be within [0, 1]")
	ErrNegativeMaxKept      = errors.New("max_kept must not be negative")
	ErrMaxKeptBelowTopK     = errors.New("max_kept cannot hold the top-k union")
	ErrNegativeMaxSeries    = errors.New("max_series must not be negative")
	ErrKBounds              = errors.New("with max_series set, min_k, k and max_k must satisfy 1 <= min_k <= k <= max_k")
	ErrNonPositiveTTL       = errors.New("process_ttl must be positive")
	ErrCPUCoverage          = errors.New("cpu_coverage must be within [0, 1]")
	ErrCoverageNeedsCPU     = errors.New(`cpu_coverage needs "cpu" in rank_by`)
	ErrCoverageMaxK         = errors.New("with cpu_coverage set, k and max_k must satisfy 1 <= k <= max_k")
)

// Config is the process_topk configuration. Every limit applies per host
// (host.name; empty for a local scraper) and per scrape.
type Config struct {
	// K is how many processes are kept per ranking key; with MaxSeries it is
	// where k starts.
	K int `mapstructure:"k"`
	// RankBy lists the ranking keys; the kept set is the union of the top K
	// by each.
	RankBy []RankKey `mapstructure:"rank_by"`
	// Others says what happens to processes that are not kept: rollup marks
	// them for process_rollup, drop removes them.
	Others Others `mapstructure:"others"`
	// ExitAfter is how many consecutive scrapes out of the top k a kept
	// process needs before it leaves the kept set; 1 disables hysteresis.
	ExitAfter int `mapstructure:"exit_after"`
	// IncumbentMargin raises the CPU rate and memory a process kept at its
	// previous scrape is ranked with (0.25: by 25%), so a challenger must
	// beat it by more than measurement noise to take its place. 0 ranks on
	// the raw values.
	IncumbentMargin float64 `mapstructure:"incumbent_margin"`
	// MaxKept is the hard cap on non-critical kept processes. 0 means twice
	// the largest possible top-k union: 2 × (MaxK with MaxSeries or CPUCoverage, else K) ×
	// len(RankBy).
	MaxKept int `mapstructure:"max_kept"`
	// MaxSeries is the budget of non-critical kept series (datapoints); k
	// moves one step per scrape within [MinK, MaxK] toward it. 0 turns the
	// budget off and k stays K.
	MaxSeries int `mapstructure:"max_series"`
	// MinK and MaxK bound k when MaxSeries is set.
	MinK int `mapstructure:"min_k"`
	MaxK int `mapstructure:"max_k"`
	// CPUCoverage, when above 0, keeps processes by CPU rate beyond the top K
	// until they carry this share of the CPU rate of the host's non-critical
	// processes in the scrape, at most MaxK of them: the CPU key's k is, per
	// scrape, the larger of K and that count. 0 turns it off.
	CPUCoverage float64 `mapstructure:"cpu_coverage"`
	// ProcessTTL evicts the state of a process not seen for this long, which
	// bounds the processor's memory.
	ProcessTTL time.Duration `mapstructure:"process_ttl"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate checks the configuration and reports every problem it finds.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.K < 1 {
		errs = append(errs, fmt.Errorf("%w, got %d", ErrNonPositiveK, cfg.K))
	}
	errs = append(errs, validateRankBy(cfg.RankBy)...)
	if cfg.Others != OthersRollup && cfg.Others != OthersDrop {
		errs = append(errs, fmt.Errorf("%w, got %q", ErrUnknownOthers, cfg.Others))
	}
	if cfg.ExitAfter < 1 {
		errs = append(errs, fmt.Errorf("%w, got %d", ErrNonPositiveExitAfter, cfg.ExitAfter))
	}
	if !(cfg.IncumbentMargin >= 0 && cfg.IncumbentMargin <= 1) { // also rejects NaN
		errs = append(errs, fmt.Errorf("%w, got %g", ErrIncumbentMargin, cfg.IncumbentMargin))
	}
	if cfg.MaxSeries < 0 {
		errs = append(errs, fmt.Errorf("%w, got %d", ErrNegativeMaxSeries, cfg.MaxSeries))
	}
	if cfg.MaxSeries > 0 && (cfg.MinK < 1 || cfg.MinK > cfg.K || cfg.K > cfg.MaxK) {
		errs = append(errs, fmt.Errorf("%w, got min_k %d, k %d, max_k %d", ErrKBounds, cfg.MinK, cfg.K, cfg.MaxK))
	}
	errs = append(errs, cfg.validateCoverage()...)
	switch union := cfg.largestK() * len(cfg.RankBy); {
	case cfg.MaxKept < 0:
		errs = append(errs, fmt.Errorf("%w, got %d", ErrNegativeMaxKept, cfg.MaxKept))
	case cfg.MaxKept > 0 && cfg.MaxKept < union:
		errs = append(errs, fmt.Errorf("%w: max_kept is %d, the union can reach %d (%s %d × %d rank_by keys)",
			ErrMaxKeptBelowTopK, cfg.MaxKept, union, cfg.largestKName(), cfg.largestK(), len(cfg.RankBy)))
	}
	if cfg.ProcessTTL <= 0 {
		errs = append(errs, fmt.Errorf("%w, got %s", ErrNonPositiveTTL, cfg.ProcessTTL))
	}
	return errors.Join(errs...)
}

func (cfg *Config) validateCoverage() []error {
	if !(cfg.CPUCoverage >= 0 && cfg.CPUCoverage <= 1) { // also rejects NaN
		return []error{fmt.Errorf("%w, got %g", ErrCPUCoverage, cfg.CPUCoverage)}
	}
	if cfg.CPUCoverage == 0 {
		return nil
	}
	var errs []error
	if !slices.Contains(cfg.RankBy, RankCPU) {
		errs = append(errs, ErrCoverageNeedsCPU)
	}
	if cfg.K > cfg.MaxK {
		errs = append(errs, fmt.Errorf("%w, got k %d, max_k %d", ErrCoverageMaxK, cfg.K, cfg.MaxK))
	}
	return errs
}

func validateRankBy(keys []RankKey) []error {
	if len(keys) == 0 {
		return []error{ErrNoRankKeys}
	}
	var errs []error
	seen := make(map[RankKey]bool, len(keys))
	for _, k := range keys {
		switch {
		case k != RankCPU && k != RankMemory:
			errs = append(errs, fmt.Errorf("%w: %q", ErrUnknownRankKey, k))
		case seen[k]:
			errs = append(errs, fmt.Errorf("%w: %q", ErrDuplicateRankKey, k))
		}
		seen[k] = true
	}
	return errs
}

// largestK is the largest k the processor can use.
func (cfg *Config) largestK() int {
	if cfg.usesMaxK() {
		return cfg.MaxK
	}
	return cfg.K
}

func (cfg *Config) largestKName() string {
	if cfg.usesMaxK() {
		return "max_k"
	}
	return "k"
}

// usesMaxK reports whether k can move up to MaxK: with a series budget, or
// with cpu_coverage (the CPU key's k).
func (cfg *Config) usesMaxK() bool { return cfg.MaxSeries > 0 || cfg.CPUCoverage > 0 }

// keptCap is the effective max_kept.
func (cfg *Config) keptCap() int {
	if cfg.MaxKept > 0 {
		return cfg.MaxKept
	}
	return 2 * cfg.largestK() * len(cfg.RankBy)
}
