// Package fleetbench measures the control plane at the size users run: a
// `phoenix server` process with thousands of OpAMP agents of cli/fleetsim
// (opamp-go clients behaving like the supervisor) in the benchmark's
// process, on the embedded store and on PostgreSQL, an experiment over the
// whole fleet from deploy to restore, and opamp-go's example server under
// the same fleet beside it. Run it with `make bench-fleet`;
// docs/architecture.md records the figures.
//
// Environment:
//
//	FLEETBENCH_AGENTS  agents per fleet (default 10000)
//	FLEETBENCH_IDLE    how long idle CPU is measured (default 60s)
//	FLEETBENCH_PEER    the opamp-go example server binary; BenchmarkPeer
//	                   is skipped without it (docs/architecture.md says how
//	                   to build it)
//
// Each benchmark runs its scenario once (-benchtime 1x) and reports what it
// measured as its metrics; nothing is timed by a unit test.
package fleetbench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

func agents(tb testing.TB) int {
	n := 10_000
	if v := os.Getenv("FLEETBENCH_AGENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			tb.Fatalf("FLEETBENCH_AGENTS=%q: want a positive number of agents", v)
		}
	}
	return n
}

func idleWindow(tb testing.TB) time.Duration {
	if v := os.Getenv("FLEETBENCH_IDLE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			tb.Fatalf("FLEETBENCH_IDLE=%q: want a positive duration such as 60s", v)
		}
		return d
	}
	return time.Minute
}

// Rates and waits of every run.
const (
	// connectRate is how many agents (re)connect a second: a fleet coming
	// back after a network cut, faster than the server's own limits.
	connectRate = 1000
	// settle is how long a server is left alone before its memory is read.
	settle = 10 * time.Second
	// applyDelay is the simulated collector restart, spread over agents.
	applyDelay = time.Second
	// waitLimit bounds every wait of a run.
	waitLimit = 5 * time.Minute
)

// waitUntil polls cond every interval until it holds or limit passes.
func waitUntil(tb testing.TB, ctx context.Context, what string, interval, limit time.Duration, cond func() (bool, string)) time.Duration {
	tb.Helper()
	start := time.Now()
	deadline := start.Add(limit)
	last := ""
	for checks := 1; ; checks++ {
		ok, state := cond()
		if ok {
			took := time.Since(start)
			// What the wait was made of: how often it looked, and what
			// it saw the time before.
			logf(tb, "%s: after %.1f s and %d checks (the one before: %s; this one: %s)", what, took.Seconds(), checks, last, state)
			return took
		}
		last = state
		if time.Now().After(deadline) || ctx.Err() != nil {
			tb.Fatalf("%s: not within %s (last: %s)", what, limit, last)
		}
		time.Sleep(interval)
	}
}

// logf logs a line of a run to standard error, as it happens: the
// testing package keeps only the first ten lines of a benchmark's log, and
// a run's later waits are what explain its figures.
func logf(tb testing.TB, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s: %s\n", tb.Name(), fmt.Sprintf(format, args...))
}

func perAgentKiB(after, before uint64, n int) float64 {
	if after < before {
		return 0
	}
	return float64(after-before) / 1024 / float64(n)
}
