package profiles

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func TestShippedProfilesMatchTheirPromises(t *testing.T) {
	all, err := All()
	require.NoError(t, err)
	assert.Equal(t, []string{Custom, HighCardinality, HighChurn, Realistic}, Names())
	require.Len(t, all, 4)

	tests := []struct {
		name         string
		minProcs     int
		maxProcs     int
		minStarts    float64
		maxStarts    float64
		uniqueCmd    bool
		wantCritical []string
	}{
		{Realistic, 50, 200, 0.05, 0.1, false, []string{"postgres", "nginx", "sshd"}},
		{HighCardinality, 1000, 2000, 0.1, 0.5, true, []string{"postgres", "nginx", "sshd"}},
		{HighChurn, 60, 100, 20, 30, false, []string{"postgres", "nginx"}},
		{Custom, 100, 100, 1, 1, false, []string{"postgres", "nginx"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Get(tt.name)
			require.NoError(t, err)
			assert.NotEmpty(t, p.Description)
			assert.NotZero(t, p.Seed)
			for seed := uint64(1); seed <= 50; seed++ {
				r, err := p.Resolve(seed)
				require.NoError(t, err)
				assert.Equal(t, seed, r.Seed)
				assert.GreaterOrEqual(t, r.Spec.Processes, tt.minProcs)
				assert.LessOrEqual(t, r.Spec.Processes, tt.maxProcs)
				assert.GreaterOrEqual(t, r.Spec.StartsPerSecond, tt.minStarts)
				assert.LessOrEqual(t, r.Spec.StartsPerSecond, tt.maxStarts)
				assert.Equal(t, tt.uniqueCmd, r.Spec.UniqueCommandLines)
				assert.Equal(t, tt.wantCritical, r.Spec.CriticalNames)
			}
		})
	}
}

func TestResolveIsDeterministicAndUsesTheProfileSeed(t *testing.T) {
	p, err := Get(Realistic)
	require.NoError(t, err)

	a, err := p.Resolve(42)
	require.NoError(t, err)
	b, err := p.Resolve(42)
	require.NoError(t, err)
	assert.Equal(t, a, b)

	own, err := p.Resolve(0)
	require.NoError(t, err)
	assert.Equal(t, p.Seed, own.Seed, "seed 0 must mean the profile's seed")

	sizes := map[int]bool{}
	for seed := uint64(1); seed <= 20; seed++ {
		r, err := p.Resolve(seed)
		require.NoError(t, err)
		sizes[r.Spec.Processes] = true
	}
	assert.Greater(t, len(sizes), 5, "seeds should spread the population size over its range")
}

func TestGetUnknownProfileListsValidNames(t *testing.T) {
	_, err := Get("huge")
	require.ErrorIs(t, err, ErrUnknownProfile)
	assert.ErrorContains(t, err, `"huge" (valid: custom, high-cardinality, high-churn, realistic)`)
}

func TestGetReturnsACopy(t *testing.T) {
	p, err := Get(Realistic)
	require.NoError(t, err)
	p.CriticalNames[0] = "changed"
	again, err := Get(Realistic)
	require.NoError(t, err)
	assert.Equal(t, "postgres", again.CriticalNames[0])
}

const validProfile = `
name: test
description: a test profile
seed: 9
processes: {min: 10, max: 20}
daemons: 2
critical_names: [postgres]
starts_per_second: 0.5
cpu: {busy_fraction: 0.1, busy_cores: 1, idle_cores: 0.01, noise: 0.1}
memory: {min_mb: 1, max_mb: 10}
`

func TestParseAcceptsBothRangeForms(t *testing.T) {
	p, err := Parse([]byte(validProfile))
	require.NoError(t, err)
	assert.Equal(t, Range[int]{Min: 10, Max: 20}, p.Processes)
	assert.Equal(t, Fixed(0.5), p.StartsPerSecond)
	assert.Equal(t, []string{"postgres"}, p.CriticalNames)
}

func TestParseRejectsBadProfilesNamingTheKey(t *testing.T) {
	tests := []struct {
		name    string
		replace map[string]string
		want    string
	}{
		{"unknown top-level key", map[string]string{"seed: 9": "seed: 9\nprocess: 5"}, "field process not found"},
		{"unknown range key", map[string]string{"{min: 10, max: 20}": "{min: 10, maximum: 20}"}, `unknown key "maximum" in range`},
		{"range missing a bound", map[string]string{"{min: 10, max: 20}": "{min: 10}"}, "a range needs both min and max"},
		{"range as a list", map[string]string{"{min: 10, max: 20}": "[10, 20]"}, "a range is a number or {min, max}"},
		{"unknown cpu key", map[string]string{"noise: 0.1": "noise: 0.1, busy: 1"}, "field busy not found"},
		{"missing name", map[string]string{"name: test": ""}, "name: is required"},
		{"zero seed", map[string]string{"seed: 9": "seed: 0"}, "seed: is required and must not be 0"},
		{"no processes", map[string]string{"{min: 10, max: 20}": "0"}, "processes: must be at least 1, got 0"},
		{"inverted processes", map[string]string{"{min: 10, max: 20}": "{min: 10, max: 5}"}, "processes.max: must be at least processes.min (10), got 5"},
		{"too many daemons", map[string]string{"daemons: 2": "daemons: 11"}, "daemons: must be between 0 and processes.min (10), got 11"},
		{"only daemons but churn", map[string]string{"daemons: 2": "daemons: 10"}, "daemons: churn needs processes that can exit"},
		{"names without daemons", map[string]string{"daemons: 2": "daemons: 0"}, "critical_names: has 1 names but only 0 daemons"},
		{"long critical name", map[string]string{"[postgres]": "[postgres-primary-1]"}, "critical_names[0]: \"postgres-primary-1\" is longer than"},
		{"critical name with slash", map[string]string{"[postgres]": "[usr/pg]"}, "critical_names[0]: \"usr/pg\" must not contain"},
		{"negative churn", map[string]string{"starts_per_second: 0.5": "starts_per_second: -1"}, "starts_per_second: must not be negative"},
		{"busy fraction", map[string]string{"busy_fraction: 0.1": "busy_fraction: 2"}, "cpu.busy_fraction: must be within [0, 1], got 2"},
		{"busy cores", map[string]string{"busy_cores: 1,": "busy_cores: -1,"}, "cpu.busy_cores: must not be negative"},
		{"idle cores", map[string]string{"idle_cores: 0.01": "idle_cores: -0.01"}, "cpu.idle_cores: must not be negative"},
		{"noise", map[string]string{"noise: 0.1": "noise: 1"}, "cpu.noise: must be within [0, 1)"},
		{"memory min", map[string]string{"min_mb: 1": "min_mb: 0"}, "memory.min_mb: must be positive"},
		{"memory max", map[string]string{"max_mb: 10": "max_mb: 0.5"}, "memory.max_mb: must be at least memory.min_mb (1), got 0.5"},
		{"pid max", map[string]string{"seed: 9": "seed: 9\npid_max: 15"}, "pid_max: must exceed processes.max (20) + 1, got 15"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := validProfile
			for from, to := range tt.replace {
				require.Contains(t, doc, from)
				doc = strings.Replace(doc, from, to, 1)
			}
			_, err := Parse([]byte(doc))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestParseRejectsAnEmptyDocument(t *testing.T) {
	_, err := Parse(nil)
	assert.EqualError(t, err, "empty profile")
}

func TestLoadChecksNamesMatchFiles(t *testing.T) {
	_, err := Load(fstest.MapFS{"other.yaml": {Data: []byte(validProfile)}})
	assert.ErrorContains(t, err, `profile other.yaml: name: must match the file name "other", got "test"`)

	_, err = Load(fstest.MapFS{"test.yaml": {Data: []byte("name: test\n")}})
	assert.ErrorContains(t, err, "profile test.yaml: seed: is required")

	got, err := Load(fstest.MapFS{"test.yaml": {Data: []byte(validProfile)}, "README.md": {Data: []byte("not a profile")}})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "test", got[0].Name)
}

func ptr[T any](v T) *T { return &v }

func TestApplyParams(t *testing.T) {
	custom, err := Get(Custom)
	require.NoError(t, err)
	realistic, err := Get(Realistic)
	require.NoError(t, err)

	t.Run("no params keep any profile", func(t *testing.T) {
		got, err := realistic.Apply(Params{})
		require.NoError(t, err)
		assert.Equal(t, realistic, got)
	})
	t.Run("params need the custom profile", func(t *testing.T) {
		_, err := realistic.Apply(Params{Processes: ptr(10)})
		require.ErrorIs(t, err, ErrParamsNeedCustom)
		assert.ErrorContains(t, err, `not to "realistic"`)
	})
	t.Run("params replace the defaults", func(t *testing.T) {
		got, err := custom.Apply(Params{
			Processes: ptr(7), StartsPerSecond: ptr(0.0),
			CPU:           CPUParams{BusyFraction: ptr(0.5), BusyCores: ptr(2.0), IdleCores: ptr(0.1)},
			CriticalNames: []string{"a", "b", "c", "d", "e"},
		})
		require.NoError(t, err)
		assert.Equal(t, Fixed(7), got.Processes)
		assert.Equal(t, Fixed(0.0), got.StartsPerSecond)
		assert.Equal(t, CPU{BusyFraction: 0.5, BusyCores: 2, IdleCores: 0.1, Noise: custom.CPU.Noise}, got.CPU)
		assert.Equal(t, 5, got.Daemons, "critical names grow the default daemons to carry them")
		assert.Equal(t, custom.Memory, got.Memory)
	})
	t.Run("explicit daemons win", func(t *testing.T) {
		_, err := custom.Apply(Params{Daemons: ptr(1), CriticalNames: []string{"a", "b"}})
		assert.ErrorContains(t, err, "critical_names: has 2 names but only 1 daemons")
	})
	t.Run("errors name the parameter", func(t *testing.T) {
		_, err := custom.Apply(Params{Processes: ptr(0)})
		assert.ErrorContains(t, err, "processes: must be at least 1, got 0")
		_, err = custom.Apply(Params{CPU: CPUParams{BusyFraction: ptr(1.5)}})
		assert.ErrorContains(t, err, "cpu.busy_fraction: must be within [0, 1]")
	})
}

func TestRangeMarshalsAsWritten(t *testing.T) {
	type doc struct {
		A Range[int]     `yaml:"a" json:"a"`
		B Range[float64] `yaml:"b" json:"b"`
	}
	in := doc{A: Range[int]{Min: 1, Max: 3}, B: Fixed(0.5)}

	j, err := json.Marshal(in)
	require.NoError(t, err)
	assert.JSONEq(t, `{"a":{"min":1,"max":3},"b":0.5}`, string(j))

	y, err := yaml.Marshal(in)
	require.NoError(t, err)
	assert.Equal(t, "a:\n    min: 1\n    max: 3\nb: 0.5\n", string(y))
	var back doc
	require.NoError(t, yaml.Unmarshal(y, &back))
	assert.Equal(t, in, back)

	assert.Equal(t, "1–3", in.A.String())
	assert.Equal(t, "0.5", in.B.String())
}
