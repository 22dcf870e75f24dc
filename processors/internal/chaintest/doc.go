// Package chaintest holds the chain-level tests and benchmarks of Phoenix's
// process pipeline: process_critical → process_topk → process_rollup →
// cost_meter, built in process from the real factories with the
// configuration in testdata/chain.yaml and wired consumer to consumer.
//
// The property tests drive the chain with simulated populations
// (receivers/processsim/population: thousands of processes, churn, PID reuse,
// critical daemons, CPU noise) and check, scrape after scrape, what the chain
// promises as a whole: critical processes always exported, a bounded output,
// counter totals conserved by the rollup, no internal marker leaking out.
//
// The trade-off tests (tradeoff_test.go) drive the chain with the shipped
// load-simulation profiles for a grid of process_topk parameters, next to a
// baseline cost_meter, and compute series reduction, CPU and memory
// coverage, conservation error and critical retention from the exported
// pdata, checking them against both cost_meters' figures.
// TestTradeoffInvariants asserts on every grid point what no setting may
// give up; TestTradeoffTable prints the table of docs/processors.md
// ("Choosing k") and runs only when asked for:
//
//	PHOENIX_TRADEOFF=1 go test -count=1 -run TestTradeoffTable -v ./processors/internal/chaintest
//
// The benchmarks put the chain next to the contrib filter processor on
// identical batches in the same run:
//
//	BenchmarkChain             the chain on a steady 1,000-process host, ns/process and
//	                           cpu-ns/process: rollup, drop, rollup with a decision recorder
//	                           (processz), and the chain cut after 1, 2 and 3 stages (prefix_*)
//	BenchmarkFilterKeepPIDs    filter keeping exactly the PIDs the chain exports: the same
//	                           output, the fair comparison
//	BenchmarkChainVsFilterPIDs the chain and that filter on copies of the same scrape in every
//	                           iteration, alternating order, with their ratio
//	BenchmarkFilterKeepList    filter with an OTTL keep-list of the names the chain kept
//	BenchmarkChainStateMemory  state bytes per tracked process, all processors together
//
// A keep-list of executable names is the best a static filter can do, but
// names are not identities: it passes every process that shares a kept name
// (833 of the 1,000 processes of the benchmark batch, against the chain's
// 23), so it exports far more than the chain for its CPU time.
//
// Each iteration feeds the next scrape of the same population; rendering it,
// and collecting its garbage, happen with the timer stopped. cpu-ns/process
// is the benchmark thread's CPU time over the timed calls (the processors run
// synchronously on it): on a machine shared with other work it moves far
// less than the wall clock. Compare in interleaved rounds, one benchmark per
// process and round, as docs/processors.md ("Performance against filter")
// shows; or compare two runs with benchstat (golang.org/x/perf/cmd/benchstat):
//
//	go test -run '^$' -bench 'Chain$|FilterKeep' -benchtime 200x -count 6 ./processors/internal/chaintest | tee new.txt
//	go test -run '^$' -bench StateMemory -count 6 ./processors/internal/chaintest | tee -a new.txt
//	benchstat old.txt new.txt
//
// -benchtime 200x keeps a run to about a minute; BenchmarkChainStateMemory
// takes a few tenths of a second per iteration, so give it the default
// benchtime or a few iterations (-benchtime 3x), never hundreds.
package chaintest // import "github.com/phoenix/platform/processors/internal/chaintest"
