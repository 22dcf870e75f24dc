package processtopk

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
)

// candidates returns n candidates with 7 series each: CPU rate falls and
// memory rises with the index, so the top by each key are disjoint. pids are
// 1..n in index order.
func candidates(n int) []candidate {
	cands := make([]candidate, n)
	for i := range cands {
		cands[i] = candidate{
			state: &procState{}, pid: int64(i + 1), res: i,
			cpuRate: float64(n - i), memory: int64(i + 1), series: 7,
		}
	}
	return cands
}

func keptSet(cands []candidate) []int64 {
	var pids []int64
	for _, c := range cands {
		if c.outcome.kept() {
			pids = append(pids, c.pid)
		}
	}
	return pids
}

func TestRankIsBestOverKeys(t *testing.T) {
	s := selector{keys: []RankKey{RankCPU, RankMemory}}
	cands := candidates(5)
	cands[2].memory = cands[4].memory // a memory tie goes to the earlier resource
	s.rank(cands, 1)
	got := make([]int, len(cands))
	by := make([]RankKey, len(cands))
	for i, c := range cands {
		got[i], by[i] = c.rank, c.rankBy
	}
	// cpu ranks 1..5, memory ranks 5,4,1,3,2 (pid 3 comes before pid 5).
	assert.Equal(t, []int{1, 2, 1, 3, 2}, got)
	assert.Equal(t, []RankKey{RankCPU, RankCPU, RankMemory, RankMemory, RankMemory}, by)
}

func TestCapReleasesLongestOutThenLowestRanked(t *testing.T) {
	// pid 1 leads; 2..5 were kept before and are out now with the streaks
	// below (their streak grows by one this scrape); 6 was never kept.
	previousStreaks := map[int64]int32{2: 0, 3: 2, 4: 2, 5: 1}
	tests := []struct {
		keptCap int
		want    []int64
	}{
		{keptCap: 5, want: []int64{1, 2, 3, 4, 5}},
		{keptCap: 4, want: []int64{1, 2, 3, 5}}, // 3 and 4 are out longest; 4 ranks lower
		{keptCap: 3, want: []int64{1, 2, 5}},
		{keptCap: 2, want: []int64{1, 2}},
		{keptCap: 1, want: []int64{1}},
	}
	for _, tt := range tests {
		s := selector{keys: []RankKey{RankCPU}, exitAfter: 10, keptCap: tt.keptCap}
		cands := candidates(6)
		for i := range cands {
			if streak, ok := previousStreaks[cands[i].pid]; ok {
				cands[i].state.kept, cands[i].state.outStreak = true, streak
			}
		}
		d := s.decide(cands, 1)
		assert.Equal(t, tt.want, keptSet(cands), "max_kept %d", tt.keptCap)
		assert.Equal(t, 1+4-len(tt.want)+1, d.changes, "max_kept %d: pid 1 enters, released ones exit", tt.keptCap)
		for _, c := range cands {
			assert.Equal(t, c.outcome.kept(), c.state.kept)
			if c.outcome == held {
				assert.Equal(t, previousStreaks[c.pid]+1, c.state.outStreak)
			} else {
				assert.Zero(t, c.state.outStreak)
			}
		}
	}
}

func TestBudgetReleasesHeldProcesses(t *testing.T) {
	s := selector{keys: []RankKey{RankCPU}, exitAfter: 10, keptCap: 100, maxSeries: 15, minK: 1, maxK: 10}
	cands := candidates(4)
	for i := range cands {
		cands[i].state.kept = true
	}
	s.decide(cands, 1)
	assert.Equal(t, []int64{1, 2}, keptSet(cands), "held processes go while the kept series exceed max_series")
}

func TestSteerK(t *testing.T) {
	tests := []struct {
		name      string
		keys      []RankKey
		n         int
		k         int
		maxSeries int
		minK      int
		maxK      int
		want      int
	}{
		{name: "over budget lowers", keys: []RankKey{RankCPU}, n: 10, k: 3, maxSeries: 14, minK: 1, maxK: 10, want: 2},
		{name: "never below min_k", keys: []RankKey{RankCPU}, n: 10, k: 2, maxSeries: 5, minK: 2, maxK: 10, want: 2},
		{name: "within the headroom band holds", keys: []RankKey{RankCPU}, n: 10, k: 2, maxSeries: 20, minK: 1, maxK: 10, want: 2},
		{name: "room for one more step raises", keys: []RankKey{RankCPU}, n: 10, k: 2, maxSeries: 21, minK: 1, maxK: 10, want: 3},
		{name: "never above max_k", keys: []RankKey{RankCPU}, n: 10, k: 3, maxSeries: 1000, minK: 1, maxK: 3, want: 3},
		{name: "no raise when every process is kept", keys: []RankKey{RankCPU}, n: 3, k: 3, maxSeries: 1000, minK: 1, maxK: 10, want: 3},
		{name: "two keys: the step is two processes, band holds", keys: []RankKey{RankCPU, RankMemory}, n: 10, k: 2, maxSeries: 41, minK: 1, maxK: 10, want: 2},
		{name: "two keys: the step is two processes, raises", keys: []RankKey{RankCPU, RankMemory}, n: 10, k: 2, maxSeries: 42, minK: 1, maxK: 10, want: 3},
		{name: "no budget keeps k", keys: []RankKey{RankCPU}, n: 10, k: 4, maxSeries: 0, want: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := selector{keys: tt.keys, exitAfter: 1, keptCap: 1000, maxSeries: tt.maxSeries, minK: tt.minK, maxK: tt.maxK}
			assert.Equal(t, tt.want, s.decide(candidates(tt.n), tt.k).nextK)
		})
	}
}

func TestDecideWithoutCandidates(t *testing.T) {
	s := selector{keys: []RankKey{RankCPU}, exitAfter: 3, keptCap: 10, maxSeries: 100, minK: 1, maxK: 10}
	assert.Equal(t, hostDecision{nextK: 4}, s.decide(nil, 4))
}

func TestIncumbentMargin(t *testing.T) {
	tests := []struct {
		name       string
		challenger float64 // CPU rate of pid 2 against the incumbent's 1.0
		margin     float64
		want       []int64
	}{
		{name: "a challenger within the margin waits", challenger: 1.2, margin: 0.25, want: []int64{1}},
		{name: "a challenger beyond the margin takes the place", challenger: 1.3, margin: 0.25, want: []int64{2}},
		{name: "no margin ranks on raw rates", challenger: 1.01, margin: 0, want: []int64{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := selector{keys: []RankKey{RankCPU}, margin: tt.margin, exitAfter: 1, keptCap: 10}
			cands := []candidate{
				{state: &procState{kept: true}, pid: 1, cpuRate: 1},
				{state: &procState{}, pid: 2, res: 1, cpuRate: tt.challenger},
			}
			s.decide(cands, 1)
			assert.Equal(t, tt.want, keptSet(cands))
		})
	}
}

func TestRadixSortAgreesWithSlicesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var scratch []uint64
	for _, n := range []int{0, 1, 63, 64, 65, 1000, 4096} {
		for _, spread := range []uint64{math.MaxUint64, 1<<40 - 1, 1<<24 - 1} {
			keys := make([]uint64, n)
			for i := range keys {
				// Distinct keys, as the ranking builds them: a value above a position.
				keys[i] = rng.Uint64()&spread&^positionMask | uint64(i)
			}
			want := slices.Clone(keys)
			slices.Sort(want)
			scratch = radixSort(keys, scratch)
			assert.Equal(t, want, keys, "n=%d spread=%d", n, spread)
		}
	}
}
