package processtopk

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/phoenix/platform/processors/contract/processmetrics"
	"github.com/phoenix/platform/processors/internal/chainbatch"
)

func reading(start, at time.Duration, cpu float64) processmetrics.Reading {
	r := processmetrics.Reading{Time: pcommon.NewTimestampFromTime(t0.Add(at)), CPUSeconds: cpu}
	if start != noStart {
		r.Start = pcommon.NewTimestampFromTime(t0.Add(start))
	}
	return r
}

const noStart = time.Duration(-1 << 62)

func TestObserveRates(t *testing.T) {
	tests := []struct {
		name     string
		readings []processmetrics.Reading
		want     float64
	}{
		{
			name:     "first sight is the lifetime average",
			readings: []processmetrics.Reading{reading(-100*time.Second, 0, 50)},
			want:     0.5,
		},
		{
			name:     "two scrapes give the rate between them",
			readings: []processmetrics.Reading{reading(-100*time.Second, 0, 50), reading(-100*time.Second, 10*time.Second, 52)},
			want:     0.2,
		},
		{
			name:     "cpu time of several states is summed by Read; the rate uses the sum",
			readings: []processmetrics.Reading{reading(-time.Hour, 0, 10), reading(-time.Hour, 4*time.Second, 18)},
			want:     2,
		},
		{
			name: "a duplicate scrape keeps the previous rate",
			readings: []processmetrics.Reading{
				reading(-100*time.Second, 0, 50), reading(-100*time.Second, 10*time.Second, 52), reading(-100*time.Second, 10*time.Second, 60),
			},
			want: 0.2,
		},
		{
			name: "an out-of-order scrape keeps the previous rate",
			readings: []processmetrics.Reading{
				reading(-100*time.Second, 0, 50), reading(-100*time.Second, 10*time.Second, 52), reading(-100*time.Second, 5*time.Second, 51),
			},
			want: 0.2,
		},
		{
			name:     "a new start time is PID reuse: the rate starts over",
			readings: []processmetrics.Reading{reading(-time.Hour, 0, 3600), reading(-10*time.Second, 10*time.Second, 2)},
			want:     0.1,
		},
		{
			name:     "a zero age gives zero",
			readings: []processmetrics.Reading{reading(0, 0, 5)},
			want:     0,
		},
		{
			name:     "a negative age gives zero",
			readings: []processmetrics.Reading{reading(time.Second, 0, 5)},
			want:     0,
		},
		{
			name:     "an unknown start time gives zero",
			readings: []processmetrics.Reading{reading(noStart, 0, 5)},
			want:     0,
		},
		{
			name:     "a counter that went back falls back to the lifetime average",
			readings: []processmetrics.Reading{reading(-100*time.Second, 0, 50), reading(-100*time.Second, 100*time.Second, 20)},
			want:     0.1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s procState
			for i := range tt.readings {
				s.observe(&tt.readings[i])
			}
			assert.InDelta(t, tt.want, s.cpuRate, 1e-9)
		})
	}
}

func TestPIDReuseForgetsMembership(t *testing.T) {
	s := procState{}
	r := reading(-time.Hour, 0, 1)
	s.observe(&r)
	s.kept, s.outStreak = true, 2
	r = reading(-time.Second, 10*time.Second, 0)
	s.observe(&r)
	assert.False(t, s.kept)
	assert.Zero(t, s.outStreak)
}

func TestSharedRecordOnlyServesItsOwner(t *testing.T) {
	a, _ := newTestProcessor(t, testConfig(nil))
	b, _ := newTestProcessor(t, testConfig(nil))
	proc := &chainbatch.Proc{Shared: &chainbatch.Shared{}}
	key := processmetrics.Key{PID: 7}

	sa := a.state(proc, key)
	assert.Same(t, sa, a.state(proc, key), "the owner finds its state through the record")
	sb := b.state(proc, key)
	assert.NotSame(t, sa, sb, "another instance never uses a's state")
	assert.Same(t, sa, a.state(proc, key), "a finds its state again, by its own map")

	a.procs[key].evicted = true
	delete(a.procs, key)
	assert.NotSame(t, sa, a.state(proc, key), "an evicted state is never used again")
}

// TestSharedRecordAcrossInstancesIsRaceFree has two instances use the same
// shared records at once, each under its own lock, as two pipelines fed by
// one process_critical would (run with -race).
func TestSharedRecordAcrossInstancesIsRaceFree(t *testing.T) {
	batch := &chainbatch.Batch{}
	for pid := range 50 {
		batch.Procs = append(batch.Procs, chainbatch.Proc{
			Reading: processmetrics.Reading{Key: processmetrics.Key{PID: int64(pid)}},
			Shared:  &chainbatch.Shared{},
		})
	}
	var wg sync.WaitGroup
	for range 2 {
		p, _ := newTestProcessor(t, testConfig(nil))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 20 {
				p.mu.Lock()
				p.warm(batch)
				for i := range batch.Procs {
					st := p.state(&batch.Procs[i], batch.Procs[i].Reading.Key)
					st.observe(&processmetrics.Reading{Start: 1, Time: pcommon.Timestamp(round + 2)})
				}
				p.mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
