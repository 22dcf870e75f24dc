package processtopk // import "github.com/phoenix/platform/processors/processtopk"

import (
	"cmp"
	"math"
	"slices"

	"github.com/phoenix/platform/processors/internal/chainbatch"
)

// outcome is what one scrape decides for a non-critical process.
type outcome uint8

const (
	// other: neither in the top k nor held; rolled up or dropped.
	other outcome = iota
	// top: in the top k by at least one ranking key.
	top
	// held: out of the top k but kept by hysteresis.
	held
)

func (o outcome) kept() bool { return o != other }

// candidate is one non-critical process of a host's scrape.
type candidate struct {
	state   *procState
	proc    *chainbatch.Proc // nil when the batch came without one
	host    string
	pid     int64
	res     int // index of its resource in the batch
	cpuRate float64
	memory  int64
	series  int
	// rank is the best 1-based rank over the ranking keys, rankBy the key
	// that gave it.
	rank      int
	rankBy    RankKey
	cpuRank   int // 1-based position by CPU rate; 0 when cpu is not a ranking key
	outcome   outcome
	outStreak int32
}

// selector decides a host's kept set. Its scratch slices are reused across
// scrapes, so callers serialize its use.
type selector struct {
	keys      []RankKey
	margin    float64
	exitAfter int32
	keptCap   int
	maxSeries int
	minK      int
	maxK      int
	coverage  float64

	// cpuK is the CPU key's k of the scrape being decided under coverage:
	// how many processes, in CPU rank order, carry coverage of the CPU rate.
	cpuK    int
	sorted  []uint64
	scratch []uint64
	evictee []int32
}

func newSelector(cfg *Config) selector {
	return selector{
		keys:      cfg.RankBy,
		margin:    cfg.IncumbentMargin,
		exitAfter: int32(min(cfg.ExitAfter, math.MaxInt32)),
		keptCap:   cfg.keptCap(),
		maxSeries: cfg.MaxSeries,
		minK:      cfg.MinK,
		maxK:      cfg.MaxK,
		coverage:  cfg.CPUCoverage,
	}
}

// hostDecision sums up a host's scrape.
type hostDecision struct {
	nextK   int // the k of the host's next scrape
	changes int // kept-set entries plus exits
}

// decide ranks one host's processes of one scrape with k, applies hysteresis,
// the cap and the series budget, and records the outcome in each candidate
// and its state.
func (s *selector) decide(cands []candidate, k int) hostDecision {
	s.cpuK = 0
	s.rank(cands, k)
	kept, keptSeries := 0, 0
	for i := range cands {
		c := &cands[i]
		switch {
		case c.rank <= k, c.cpuRank > 0 && c.cpuRank <= s.cpuK:
			c.outcome, c.outStreak = top, 0
		case c.state.kept && c.state.outStreak+1 < s.exitAfter:
			c.outcome, c.outStreak = held, c.state.outStreak+1
		default:
			c.outcome, c.outStreak = other, 0
		}
		if c.outcome.kept() {
			kept++
			keptSeries += c.series
		}
	}
	s.release(cands, kept, keptSeries)

	d := hostDecision{nextK: s.steer(cands, k)}
	for i := range cands {
		c := &cands[i]
		if c.outcome.kept() != c.state.kept {
			d.changes++
		}
		c.state.kept, c.state.outStreak = c.outcome.kept(), c.outStreak
	}
	return d
}

// rank sets each candidate's best rank over the ranking keys. A process kept
// at its previous scrape competes with its values raised by the incumbent
// margin, so a challenger must beat it clearly, not by noise. With
// cpu_coverage it also sets the CPU key's k (see coverageK).
func (s *selector) rank(cands []candidate, k int) {
	for i := range cands {
		cands[i].rank = math.MaxInt
	}
	sorted := s.sorted[:0]
	for _, key := range s.keys {
		sorted = sorted[:0]
		for i := range cands {
			c := &cands[i]
			v := c.cpuRate
			if key == RankMemory {
				v = float64(c.memory)
			}
			if c.state.kept {
				v *= 1 + s.margin
			}
			sorted = append(sorted, descending(v)&^positionMask|uint64(i)&positionMask)
		}
		s.scratch = radixSort(sorted, s.scratch)
		for pos, sk := range sorted {
			c := &cands[sk&positionMask]
			if pos+1 < c.rank {
				c.rank, c.rankBy = pos+1, key
			}
			if key == RankCPU {
				c.cpuRank = pos + 1
			}
		}
		if key == RankCPU && s.coverage > 0 {
			s.cpuK = s.coverageK(cands, sorted, k)
		}
	}
	s.sorted = sorted
}

// coverageK returns the CPU key's k under cpu_coverage: the number of
// processes that, taken in CPU rank order (byCPU, incumbent margin
// included), first carry cpu_coverage of the raw CPU rate of the host's
// non-critical processes, at most max_k, and never below k.
func (s *selector) coverageK(cands []candidate, byCPU []uint64, k int) int {
	var total float64
	for i := range cands {
		total += cands[i].cpuRate
	}
	target, covered := s.coverage*total, 0.0
	for pos, sk := range byCPU {
		covered += cands[sk&positionMask].cpuRate
		if covered >= target || pos+1 >= s.maxK {
			return max(k, pos+1)
		}
	}
	return max(k, len(byCPU))
}

// Sort keys pack a value, highest first, above the candidate's position in
// the host's batch, so a plain integer sort ranks a thousand processes in
// microseconds. The value keeps its top 40 bits (about eight significant
// digits): closer values tie, and ties go to the earlier resource.
const (
	positionBits = 24 // candidates of one host in one batch; far beyond any process table
	positionMask = 1<<positionBits - 1
)

// radixSort sorts keys in ascending order, with scratch (returned, grown
// as needed) as its buffer. A least-significant-digit radix sort gets
// there without a data-dependent branch per comparison, which is
// what a comparison sort of a thousand keys per scrape mostly spends its
// time on. A byte all keys share costs no pass.
func radixSort(keys, scratch []uint64) []uint64 {
	if len(keys) < 64 {
		slices.Sort(keys)
		return scratch
	}
	scratch = slices.Grow(scratch[:0], len(keys))[:len(keys)]
	src, dst := keys, scratch
	for shift := uint(0); shift < 64; shift += 8 {
		var count [256]int
		for _, k := range src {
			count[byte(k>>shift)]++
		}
		if count[byte(src[0]>>shift)] == len(src) {
			continue // every key has this byte
		}
		at := 0
		for i, c := range count {
			count[i] = at
			at += c
		}
		for _, k := range src {
			b := byte(k >> shift)
			dst[count[b]] = k
			count[b]++
		}
		src, dst = dst, src
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
	}
	return scratch
}

// descending maps x to an integer whose ascending order is x's descending
// order.
func descending(x float64) uint64 {
	b := math.Float64bits(x)
	if b>>63 == 0 {
		b |= 1 << 63
	} else {
		b = ^b
	}
	return ^b
}

// release turns held processes into others while the kept set is over the
// cap or its series over the budget: the longest out of the top k first, then
// the lowest ranked, then the later resource. The top-k union itself is never released: Validate
// ensures the cap holds it, and the budget acts on it through k.
func (s *selector) release(cands []candidate, kept, keptSeries int) {
	over := func() bool {
		return kept > s.keptCap || (s.maxSeries > 0 && keptSeries > s.maxSeries)
	}
	if !over() {
		return
	}
	evictee := s.evictee[:0]
	for i := range cands {
		if cands[i].outcome == held {
			evictee = append(evictee, int32(i))
		}
	}
	s.evictee = evictee
	slices.SortFunc(evictee, func(a, b int32) int {
		x, y := &cands[a], &cands[b]
		if c := cmp.Compare(y.outStreak, x.outStreak); c != 0 {
			return c
		}
		if c := cmp.Compare(y.rank, x.rank); c != 0 {
			return c
		}
		return cmp.Compare(y.res, x.res)
	})
	for _, i := range evictee {
		if !over() {
			return
		}
		c := &cands[i]
		c.outcome, c.outStreak = other, 0
		kept--
		keptSeries -= c.series
	}
}

// steer returns the k of the host's next scrape. Without a budget k stays.
// With one, S is the series of the top-k union and step the most one step of
// k can add (one process per ranking key, each with as many series as the
// largest in the union): k goes down when S > max_series, up when
// S + step <= max_series and some process is left out of the union, and stays
// otherwise. The band of width step between the two is the headroom that
// keeps k from oscillating, and room for held processes.
func (s *selector) steer(cands []candidate, k int) int {
	if s.maxSeries == 0 {
		return k
	}
	inUnion, unionSeries, largest := 0, 0, 0
	for i := range cands {
		if c := &cands[i]; c.outcome == top {
			inUnion++
			unionSeries += c.series
			largest = max(largest, c.series)
		}
	}
	step := len(s.keys) * largest
	switch {
	case unionSeries > s.maxSeries:
		return max(s.minK, k-1)
	case inUnion < len(cands) && unionSeries+step <= s.maxSeries:
		return min(s.maxK, k+1)
	default:
		return k
	}
}
