package experiments

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

func TestMeasurePage(t *testing.T) {
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		window time.Duration
		want   int
	}{
		{0, store.MaxBatchKeys},
		{12 * time.Minute, store.MaxBatchKeys},
		{100 * time.Minute, measureAgentMinutes / 100},
		{MaxDuration + 2*time.Minute, 1},
	} {
		assert.Equal(t, tt.want, measurePage(at, at.Add(tt.window), 2), tt.window)
	}
	// Each candidate beyond the first adds ~20 series a minute to ~45: the
	// page shrinks so that a read holds as many samples.
	window := 100 * time.Minute
	assert.Equal(t, measureAgentMinutes*45/65/100, measurePage(at, at.Add(window), 3))
	assert.Equal(t, measureAgentMinutes*45/105/100, measurePage(at, at.Add(window), 5))
	assert.Less(t, measurePage(at, at.Add(window), 5), measurePage(at, at.Add(window), 2))
	assert.Equal(t, 1, measurePage(at, at.Add(MaxDuration+2*time.Minute), 5))
}

// measure hands the analysis every target's window, read a page of
// targets at a time, as one query per target would read it.
func TestMeasureReadsEveryTargetsWindow(t *testing.T) {
	f := newFixture(t)
	var got map[string][]apitypes.Sample
	f.c.set.Analyze = func(_ context.Context, _ Experiment, samples map[string][]apitypes.Sample) (apitypes.Results, error) {
		got = samples
		return apitypes.Results{}, nil
	}
	from := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	var x Experiment
	x.State.MeasureFrom = from
	var samples []apitypes.Sample
	for i := range 5 {
		uid := fmt.Sprintf("agent-%d", i)
		x.State.Targets = append(x.State.Targets, apitypes.ExperimentTarget{InstanceUID: uid})
		if i == 3 {
			continue // sent nothing
		}
		// From the minute before the window (a counter's start) to past its end.
		for m := -2; m <= 4; m++ {
			for _, name := range []string{"b", "a"} {
				samples = append(samples, apitypes.Sample{InstanceUID: uid, Name: name, Variant: apitypes.VariantCandidate,
					Minute: from.Add(time.Duration(m) * time.Minute), Value: float64(i*100 + m)})
			}
		}
	}
	require.NoError(t, f.st.PutSamples(t.Context(), samples))

	for _, tt := range []struct {
		until   time.Time
		minutes int // of agent-0's samples in the window
	}{
		{from.Add(2 * time.Minute), 4}, // one page
		{from.Add(MaxDuration), 6},     // a page per target
	} {
		until := tt.until
		_, err := f.c.measure(t.Context(), x, until)
		require.NoError(t, err)
		want := map[string][]apitypes.Sample{}
		for _, tg := range x.State.Targets {
			want[tg.InstanceUID], err = f.st.QuerySamples(t.Context(), store.SampleQuery{InstanceUID: tg.InstanceUID,
				From: from.Add(-time.Minute), To: until.Add(time.Minute)})
			require.NoError(t, err)
		}
		assert.Equal(t, want, got)
		assert.Len(t, got["agent-0"], 2*tt.minutes)
		assert.Equal(t, []apitypes.Sample{}, got["agent-3"], "a target without samples has an empty window")
	}
}

// TestMeasuringStartsAtAWholeMinute: the window starts after the warmup, at
// the next whole minute (or at once, on one), so every minute in it is
// whole when it ends.
func TestMeasuringStartsAtAWholeMinute(t *testing.T) {
	at := func(h, m, s, ns int) time.Time { return time.Date(2026, 12, 3, h, m, s, ns, time.UTC) }
	for _, tc := range []struct {
		now    time.Time
		warmup time.Duration
		want   time.Time
	}{
		{at(0, 4, 31, 902_000_000), 30 * time.Second, at(0, 6, 0, 0)},
		{at(0, 4, 30, 0), 30 * time.Second, at(0, 5, 0, 0)},
		{at(0, 4, 0, 0), 0, at(0, 4, 0, 0)},
		{at(0, 4, 0, 1), 0, at(0, 5, 0, 0)},
		{at(23, 59, 59, 0), time.Minute, at(0, 1, 0, 0).AddDate(0, 0, 1)},
	} {
		assert.Equal(t, tc.want, measureStart(tc.now, tc.warmup), "running at %s, warmup %s", tc.now.Format(time.RFC3339Nano), tc.warmup)
	}
}
