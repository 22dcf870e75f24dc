// Package loadsim runs the built `phoenix loadsim run` on this host and
// checks, with the real host_metrics process scraper, that its workers appear
// as the profile says and never outlive it.
package loadsim

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/receiver/hostmetricsreceiver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"golang.org/x/sys/unix"

	"github.com/phoenix/platform/cli/localrun"
	"github.com/phoenix/platform/processors/contract/processmetrics"
	"github.com/phoenix/platform/test/testenv"
)

const (
	workers = 6
	// seenWithin bounds how long loadsim gets to start its workers and the
	// scraper to report them; goneWithin how long workers may outlive it.
	seenWithin = 60 * time.Second
	goneWithin = 15 * time.Second
)

// scraped is one process as the host_metrics scraper reported it.
type scraped struct {
	PID, ParentPID int64
	Name, Command  string
	Start          pcommon.Timestamp
}

// scraper runs the contrib host_metrics receiver's process scraper in
// process, scraping every second.
type scraper struct {
	sink *consumertest.MetricsSink
}

func startScraper(t *testing.T) *scraper {
	t.Helper()
	factory := hostmetricsreceiver.NewFactory()
	cfg := factory.CreateDefaultConfig()
	require.NoError(t, confmap.NewFromStringMap(map[string]any{
		"collection_interval": "1s",
		"scrapers": map[string]any{"process": map[string]any{
			"mute_process_exe_error":  true,
			"mute_process_io_error":   true,
			"mute_process_user_error": true,
			"mute_process_name_error": true,
		}},
	}).Unmarshal(cfg))
	s := &scraper{sink: new(consumertest.MetricsSink)}
	rcv, err := factory.CreateMetrics(t.Context(), receivertest.NewNopSettings(factory.Type()), cfg, s.sink)
	require.NoError(t, err)
	require.NoError(t, rcv.Start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() { assert.NoError(t, rcv.Shutdown(context.Background())) })
	return s
}

// next waits for a scrape newer than the last one read and returns it.
func (s *scraper) next(t *testing.T) []scraped {
	t.Helper()
	s.sink.Reset()
	var all []scraped
	require.Eventually(t, func() bool { return len(s.sink.AllMetrics()) > 0 }, 30*time.Second, 50*time.Millisecond, "no scrape")
	md := s.sink.AllMetrics()[0]
	for _, rm := range md.ResourceMetrics().All() {
		attrs := rm.Resource().Attributes()
		r, ok := processmetrics.Read(rm)
		if !ok {
			continue
		}
		p := scraped{PID: r.Key.PID, Start: r.Start}
		if v, ok := attrs.Get(processmetrics.AttrParentPID); ok {
			p.ParentPID = v.Int()
		}
		if v, ok := attrs.Get(processmetrics.AttrExecutableName); ok {
			p.Name = v.Str()
		}
		if v, ok := attrs.Get(processmetrics.AttrCommandLine); ok {
			p.Command = v.Str()
		}
		all = append(all, p)
	}
	return all
}

// loadsim is a running `phoenix loadsim run`.
type loadsim struct {
	cmd      *exec.Cmd
	critical []string
	out, err localrun.SyncBuffer
	exited   chan struct{}
	exitErr  error
}

func startLoadsim(t *testing.T) *loadsim {
	t.Helper()
	// Unique critical names find this run's daemons among every process on
	// the host; Linux keeps 15 characters of a process name.
	id := fmt.Sprintf("%06x", rand.Uint32()&0xffffff)
	l := &loadsim{critical: []string{"lsdb-" + id, "lsweb-" + id}, exited: make(chan struct{})}
	testenv.Binary(t, "phoenix-loadworker") // loadsim runs the one next to phoenix
	l.cmd = exec.Command(testenv.Binary(t, "phoenix"), "loadsim", "run",
		"--profile", "custom",
		"--processes", strconv.Itoa(workers),
		"--critical", strings.Join(l.critical, ","),
		"--starts-per-second", "0.5",
		"--busy-fraction", "0.2", "--busy-cores", "0.05", "--idle-cores", "0.005",
		"--max-memory-mb", "64",
		"--duration", "2m", "--progress", "1s", "--ramp", "1s")
	l.cmd.Stdout, l.cmd.Stderr = &l.out, &l.err
	require.NoError(t, l.cmd.Start())
	go func() {
		l.exitErr = l.cmd.Wait()
		close(l.exited)
	}()
	t.Cleanup(func() {
		_ = l.cmd.Process.Kill()
		<-l.exited
	})
	return l
}

// workersOf returns the processes whose parent is the loadsim process.
func (l *loadsim) workersOf(procs []scraped) []scraped {
	var out []scraped
	for _, p := range procs {
		if p.ParentPID == int64(l.cmd.Process.Pid) {
			out = append(out, p)
		}
	}
	return out
}

// waitForWorkers scrapes until every worker runs, and returns them.
func (l *loadsim) waitForWorkers(t *testing.T, s *scraper) []scraped {
	t.Helper()
	deadline := time.Now().Add(seenWithin)
	for time.Now().Before(deadline) {
		select {
		case <-l.exited:
			t.Fatalf("loadsim exited early (%v)\nstdout:\n%s\nstderr:\n%s", l.exitErr, l.out.String(), l.err.String())
		default:
		}
		found := l.workersOf(s.next(t))
		names := map[string]bool{}
		for _, w := range found {
			names[w.Name] = true
		}
		if len(found) >= workers && names[l.critical[0]] && names[l.critical[1]] {
			return found
		}
	}
	t.Fatalf("the scraper did not see %d workers of loadsim within %s\nstderr:\n%s", workers, seenWithin, l.err.String())
	return nil
}

// running reports whether the process with this PID and start time still
// runs. A zombie has exited: it only waits for whoever inherited it to reap it.
func running(pid int64, start pcommon.Timestamp, procs []scraped) bool {
	for _, p := range procs {
		if p.PID == pid && p.Start == start {
			stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			if err != nil {
				return false
			}
			fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
			return len(fields) > 0 && fields[0] != "Z"
		}
	}
	return false
}

func TestWorkersNeverOutliveLoadsim(t *testing.T) {
	tests := []struct {
		name   string
		signal syscall.Signal
		// clean is true when loadsim itself stops the workers and reports,
		// exiting with status.
		clean  bool
		status int
	}{
		{name: "SIGKILL", signal: syscall.SIGKILL},
		{name: "SIGINT", signal: syscall.SIGINT, clean: true, status: 130},
		{name: "SIGTERM", signal: syscall.SIGTERM, clean: true, status: 143},
	}
	// Orphaned workers come to this test rather than to PID 1, which on some
	// hosts never reaps them; the test reaps whatever it inherits.
	require.NoError(t, unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
	t.Cleanup(func() { _ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) })
	s := startScraper(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := startLoadsim(t)
			found := l.waitForWorkers(t, s)
			for _, w := range found {
				assert.Contains(t, w.Command, w.Name+" --parent="+strconv.Itoa(l.cmd.Process.Pid)+" ", "pid %d: %s", w.PID, w.Command)
			}

			require.NoError(t, l.cmd.Process.Signal(tt.signal))
			select {
			case <-l.exited:
			case <-time.After(goneWithin):
				t.Fatalf("loadsim did not exit within %s of %s", goneWithin, tt.name)
			}
			if tt.clean {
				// Stopping early is an ordinary end: the summary, the
				// shell's status for the signal, and no error.
				var exit *exec.ExitError
				require.ErrorAs(t, l.exitErr, &exit)
				assert.Equal(t, tt.status, exit.ExitCode(), "exit status")
				assert.NotContains(t, l.err.String(), "Error:")
				assert.Contains(t, l.out.String(), "stopped by "+tt.name)
				assert.Contains(t, l.out.String(), "all stopped")
			}

			deadline := time.Now().Add(goneWithin)
			for {
				procs := s.next(t)
				var alive []string
				for _, w := range found {
					reap(w.PID)
					if running(w.PID, w.Start, procs) {
						alive = append(alive, fmt.Sprintf("%d (%s)", w.PID, w.Name))
					}
				}
				if len(alive) == 0 {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("workers still running %s after loadsim got %s: %s", goneWithin, tt.name, strings.Join(alive, ", "))
				}
			}
		})
	}
}

// reap collects pid's exit status if it is an exited child of this test.
func reap(pid int64) {
	var status unix.WaitStatus
	_, _ = unix.Wait4(int(pid), &status, unix.WNOHANG, nil)
}
