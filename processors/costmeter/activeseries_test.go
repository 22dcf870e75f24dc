package costmeter

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// contents returns the set's entries, checking each is reachable by probing
// from its home slot (what lookups rely on).
func (s *activeSeries) contents(t *testing.T) map[uint64]time.Duration {
	t.Helper()
	mask := uint64(len(s.slots) - 1)
	out := map[uint64]time.Duration{}
	for pos, slot := range s.slots {
		if slot.id == 0 {
			continue
		}
		for i := slot.id & mask; i != uint64(pos); i = (i + 1) & mask {
			require.NotZero(t, s.slots[i].id, "entry %d at %d is cut off from its home %d", slot.id, pos, slot.id&mask)
		}
		out[slot.id] = slot.seen
	}
	require.Len(t, out, s.len)
	return out
}

// TestActiveSeriesMatchesModel drives the table and a map with the same
// random operations. Identities are drawn from a narrow range so that they
// cluster, collide, wrap around the table's end, grow and shrink it.
func TestActiveSeriesMatchesModel(t *testing.T) {
	const window, maxSeries = 100 * time.Second, 3000
	rng := rand.New(rand.NewPCG(7, 11))
	s := newActiveSeries(window, maxSeries)
	model := map[uint64]time.Duration{}
	var now time.Duration

	for step := range 500 {
		now += time.Duration(rng.IntN(20)) * time.Second
		switch op := rng.IntN(10); {
		case op < 7:
			ids := make([]uint64, rng.IntN(300))
			base := uint64(rng.IntN(8)) << 10 // bursts around one region
			for i := range ids {
				ids[i] = 1 + base + uint64(rng.IntN(2000))
			}
			wantOverflow := 0
			for _, id := range ids {
				if _, ok := model[id]; ok || len(model) < maxSeries {
					model[id] = now
				} else {
					wantOverflow++
				}
			}
			require.Equal(t, wantOverflow, s.observe(ids, now), "step %d", step)
		default:
			for id, seen := range model {
				if now-seen >= window {
					delete(model, id)
				}
			}
			require.Equal(t, len(model), s.count(now), "step %d", step)
		}
		require.Equal(t, model, s.contents(t), "step %d", step)
	}
}

func TestActiveSeriesGrowsAndShrinks(t *testing.T) {
	s := newActiveSeries(time.Minute, 1<<20)
	ids := make([]uint64, 10_000)
	for i := range ids {
		ids[i] = rand.Uint64()
	}
	assert.Zero(t, s.observe(ids, 0))
	assert.GreaterOrEqual(t, len(s.slots), 4*10_000/3)
	assert.Equal(t, 10_000, s.count(time.Minute-1))

	assert.Zero(t, s.count(time.Minute))
	assert.Equal(t, minSlots, len(s.slots), "an emptied table shrinks back")
}

func TestActiveSeriesZeroIdentity(t *testing.T) {
	s := newActiveSeries(time.Minute, 10)
	assert.Zero(t, s.observe([]uint64{0, 0}, 0))
	assert.Equal(t, 1, s.count(0), "identity 0 is a series like any other")
}
