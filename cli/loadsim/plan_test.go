package loadsim

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/receivers/processsim/profiles"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// runOptions are the flags' defaults on a two-core host.
func runOptions(profile string) *Options {
	return &Options{
		Profile: profile, Duration: time.Minute,
		Caps: Caps{MaxProcesses: DefaultMaxProcesses, MaxCPU: 1, MaxMemoryMB: DefaultMaxMemoryMB, MaxStartsPerSecond: DefaultMaxStartsPerSecond},
	}
}

func TestBuildPlanFollowsTheProfileWithinTheCaps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		opts      func() *Options
		check     func(t *testing.T, p Plan)
		wantNotes []string
	}{
		{
			name: "realistic fits the process cap",
			opts: func() *Options { return runOptions(profiles.Realistic) },
			check: func(t *testing.T, p Plan) {
				assert.Equal(t, uint64(1), p.Seed, "the profile's seed by default")
				assert.Equal(t, p.ProfileProcesses, p.Processes)
				assert.GreaterOrEqual(t, p.Processes, 50)
				assert.LessOrEqual(t, p.Processes, 200)
				assert.Equal(t, []string{"postgres", "nginx", "sshd"}, p.CriticalNames)
			},
		},
		{
			name: "high-cardinality runs at full size by default, its memory scaled",
			opts: func() *Options { return runOptions(profiles.HighCardinality) },
			check: func(t *testing.T, p Plan) {
				assert.Equal(t, 1729, p.ProfileProcesses)
				assert.Equal(t, p.ProfileProcesses, p.Processes)
				assert.Equal(t, 10, p.Daemons)
				assert.Equal(t, []string{"postgres", "nginx", "sshd"}, p.CriticalNames)
				assert.True(t, p.Spec.UniqueCommandLines)
				assert.Equal(t, 34600*time.Millisecond, p.Ramp, "50 starts a second")
				assert.True(t, p.RampAuto)
			},
			wantNotes: []string{"memory: the profile expects", "to fit --max-memory-mb 2048"},
		},
		{
			name: "high-cardinality under a process cap keeps its critical daemons",
			opts: func() *Options {
				o := runOptions(profiles.HighCardinality)
				o.Caps.MaxProcesses = 200
				return o
			},
			check: func(t *testing.T, p Plan) {
				assert.Equal(t, 200, p.Processes)
				assert.Equal(t, 10, p.Daemons)
				assert.Equal(t, []string{"postgres", "nginx", "sshd"}, p.CriticalNames)
				assert.Equal(t, 4*time.Second, p.Ramp, "the ramp follows the capped population")
			},
			wantNotes: []string{"processes: the profile wants 1729", "capped at --max-processes 200"},
		},
		{
			name: "a given ramp is kept, and one past the duration is noted",
			opts: func() *Options {
				o := runOptions(profiles.Realistic)
				o.Ramp = 2 * time.Minute
				return o
			},
			check: func(t *testing.T, p Plan) {
				assert.Equal(t, 2*time.Minute, p.Ramp)
				assert.False(t, p.RampAuto)
			},
			wantNotes: []string{"ramp: --ramp 2m0s is not shorter than --duration 1m0s"},
		},
		{
			name: "a tiny process cap trims daemons and critical names but keeps churn",
			opts: func() *Options {
				o := runOptions(profiles.Realistic)
				o.Caps.MaxProcesses = 3
				return o
			},
			check: func(t *testing.T, p Plan) {
				assert.Equal(t, 3, p.Processes)
				assert.Equal(t, 2, p.Daemons)
				assert.Equal(t, []string{"postgres", "nginx"}, p.CriticalNames)
			},
			wantNotes: []string{"capped at --max-processes 3"},
		},
		{
			name: "churn above the cap is slowed",
			opts: func() *Options {
				o := runOptions(profiles.HighChurn)
				o.Caps.MaxStartsPerSecond = 5
				return o
			},
			check:     func(t *testing.T, p Plan) { assert.InDelta(t, 5.0, p.StartsPerSecond, 1e-9) },
			wantNotes: []string{"churn: the profile wants", "capped at --max-starts-per-second 5.00"},
		},
		{
			name: "cpu and memory are scaled to their caps",
			opts: func() *Options {
				o := runOptions(profiles.Custom)
				o.Params = profiles.Params{Processes: ptr(50), CPU: profiles.CPUParams{BusyFraction: ptr(1.0), BusyCores: ptr(2.0)}}
				o.Caps.MaxCPU, o.Caps.MaxMemoryMB = 0.5, 100
				return o
			},
			check: func(t *testing.T, p Plan) {
				assert.InDelta(t, 0.5, p.CPUCores, 1e-9)
				assert.Less(t, p.CPUScale, 1.0)
				assert.InDelta(t, 100, p.MemoryMB, 1e-9)
				assert.Less(t, p.MemoryScale, 1.0)
			},
			wantNotes: []string{"to fit --max-cpu 0.50", "to fit --max-memory-mb 100"},
		},
		{
			name: "custom parameters and seed",
			opts: func() *Options {
				o := runOptions(profiles.Custom)
				o.Seed = 77
				o.Params = profiles.Params{Processes: ptr(9), StartsPerSecond: ptr(0.0), CriticalNames: []string{"redis-server"}}
				return o
			},
			check: func(t *testing.T, p Plan) {
				assert.Equal(t, uint64(77), p.Seed)
				assert.Equal(t, 9, p.Processes)
				assert.Zero(t, p.StartsPerSecond)
				assert.Equal(t, []string{"redis-server"}, p.CriticalNames)
				assert.Equal(t, 1.0, p.CPUScale)
				assert.Equal(t, 1.0, p.MemoryScale)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := BuildPlan(*tt.opts(), t0)
			require.NoError(t, err)
			tt.check(t, p)
			assert.LessOrEqual(t, p.CPUCores, p.Caps.MaxCPU+1e-9)
			assert.LessOrEqual(t, p.MemoryMB, p.Caps.MaxMemoryMB+1e-9)
			notes := strings.Join(p.Notes, "\n")
			for _, want := range tt.wantNotes {
				assert.Contains(t, notes, want)
			}
			if len(tt.wantNotes) == 0 && p.CPUScale == 1 && p.MemoryScale == 1 {
				assert.Empty(t, p.Notes)
			}
		})
	}
}

func TestBuildPlanIsDeterministic(t *testing.T) {
	t.Parallel()
	a, err := BuildPlan(*runOptions(profiles.Realistic), t0)
	require.NoError(t, err)
	b, err := BuildPlan(*runOptions(profiles.Realistic), t0.Add(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, a, b)
}

func TestBuildPlanErrorsNameTheFlag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(o *Options)
		want   string
	}{
		{"unknown profile", func(o *Options) { o.Profile = "huge" }, `--profile: unknown profile "huge"`},
		{"params on a named profile", func(o *Options) { o.Params.Processes = ptr(5) }, "need --profile custom"},
		{"bad custom value", func(o *Options) {
			o.Profile = profiles.Custom
			o.Params.CPU.BusyFraction = ptr(3.0)
		}, "--busy-fraction: must be within [0, 1], got 3"},
		{"bad critical name", func(o *Options) {
			o.Profile = profiles.Custom
			o.Params.CriticalNames = []string{"a/b"}
		}, `--critical[0]: "a/b" must not contain`},
		{"duration", func(o *Options) { o.Duration = 0 }, "--duration must be positive"},
		{"ramp", func(o *Options) { o.Ramp = -time.Second }, "--ramp must not be negative"},
		{"max processes", func(o *Options) { o.Caps.MaxProcesses = 0 }, "--max-processes must be at least 1"},
		{"max cpu", func(o *Options) { o.Caps.MaxCPU = 0 }, "--max-cpu must be positive"},
		{"max memory", func(o *Options) { o.Caps.MaxMemoryMB = -1 }, "--max-memory-mb must not be negative"},
		{"max starts", func(o *Options) { o.Caps.MaxStartsPerSecond = -1 }, "--max-starts-per-second must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := runOptions(profiles.Realistic)
			tt.modify(o)
			_, err := BuildPlan(*o, t0)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestPlanWrite(t *testing.T) {
	t.Parallel()
	o := runOptions(profiles.HighCardinality)
	p, err := BuildPlan(*o, t0)
	require.NoError(t, err)
	var b strings.Builder
	require.NoError(t, p.Write(&b))
	out := b.String()
	for _, want := range []string{
		"Profile     high-cardinality (seed 2)\n",
		"Duration    1m0s\n",
		"Processes   1729 workers, 10 of them daemons (critical: postgres, nginx, sshd)\n",
		"Ramp        the 1729 workers start over 34.6s (50 a second; --ramp changes it), daemons first\n",
		"Memory      2048 MiB touched (cap 2048), plus about 1729 MiB of worker runtime (1 MiB each)\n",
		"Note        memory: the profile expects",
	} {
		assert.Contains(t, out, want)
	}

	p.CriticalNames = nil
	b.Reset()
	require.NoError(t, p.Write(&b))
	assert.Contains(t, b.String(), "(critical: none)")
}
