//go:build linux

// Command phoenix-loadworker acts out one simulated process for
// `phoenix loadsim run`: it takes the simulated process's name, burns its CPU
// share, holds its memory resident, and exits when its parent is gone.
//
// loadsim starts hundreds to thousands of these, so a worker is as light as a
// Go program can be: the standard library only (a small binary, quick to
// exec), one scheduler thread per core it burns, no garbage collector, its
// memory mapped outside the Go heap, and one wake-up a second when idle.
//
//	phoenix-loadworker --parent=PID [--name=NAME] [--cores=N] [--memory-mb=N] [--poll=D] [-- display arguments]
//
// loadsim sets argv[0] to the simulated name and passes the simulated
// arguments after --, so the worker's command line reads like the simulated
// process's. Arguments after -- are otherwise ignored.
package main

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// The worker uses neither fmt nor flag: they would nearly double the binary,
// and every page of it that a worker maps costs memory and exec time.

const usage = `usage: phoenix-loadworker --parent=PID [--name=NAME] [--cores=N] [--memory-mb=N] [--poll=DURATION] [-- display arguments]

Act out one simulated process for 'phoenix loadsim run'; loadsim starts it.
  --parent     PID of the loadsim process; exit when it is gone (required)
  --name       process name to take (the kernel keeps 15 characters)
  --cores      CPU share to burn, in cores (default 0)
  --memory-mb  memory to map and keep resident, in MiB (default 0)
  --poll       how often to check the parent is alive (default 1s)
Arguments after -- only make the command line look like the simulated process's.
`

// options are the worker's flags.
type options struct {
	// parent is the loadsim process's PID; the worker exits when its
	// parent is no longer that process.
	parent int
	// name becomes the process name (/proc/<pid>/comm), which the
	// host_metrics scraper reports as process.executable.name.
	name string
	// cores is the CPU share to burn, in cores.
	cores float64
	// memoryMB is how much memory to map and keep resident, in MiB.
	memoryMB float64
	// poll is how often an idle worker checks its parent.
	poll time.Duration
}

func main() {
	syscall.Exit(run(os.Args[1:]))
}

// run is the whole worker; it returns the exit status: 0 when the parent is
// gone, 2 for bad flags, 1 when the worker cannot take its name or memory.
func run(args []string) int {
	opts, err := parse(args)
	if err == errHelp {
		stderr(usage)
		return 0
	}
	if err != nil {
		stderr("phoenix-loadworker: " + err.Error() + "\n" + usage)
		return 2
	}
	if syscall.Getppid() != opts.parent {
		return 0 // the parent died before we got going
	}
	// Idle settings: no collector cycles (the heap barely grows after
	// start, and a limit catches any leak), and only as many threads
	// running Go code as the share needs.
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(32 << 20)
	runtime.GOMAXPROCS(max(1, int(math.Ceil(opts.cores))))

	if opts.name != "" {
		if err := setProcessName(opts.name); err != nil {
			stderr("phoenix-loadworker: set process name: " + err.Error() + "\n")
			return 1
		}
	}
	memory, err := holdMemory(opts.memoryMB)
	if err != nil {
		stderr("phoenix-loadworker: hold " + strconv.FormatFloat(opts.memoryMB, 'g', -1, 64) + " MiB: " + err.Error() + "\n")
		return 1
	}
	shares := splitCores(opts.cores)
	for _, share := range shares[min(1, len(shares)):] {
		go burn(share)
	}
	var first float64
	if len(shares) > 0 {
		first = shares[0]
	}
	// The main goroutine burns the first share and watches the parent in
	// the same loop: one wake-up per period.
	burnWatching(first, opts.parent, opts.poll)
	runtime.KeepAlive(memory)
	return 0
}

func stderr(s string) { _, _ = syscall.Write(2, []byte(s)) }

type parseError string

func (e parseError) Error() string { return string(e) }

const errHelp = parseError("help requested")

// parse reads --flag=value and --flag value (one or two dashes) up to --.
func parse(args []string) (options, error) {
	opts := options{poll: time.Second}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			break
		}
		if arg == "-h" || arg == "--help" || arg == "-help" {
			return opts, errHelp
		}
		if !strings.HasPrefix(arg, "-") {
			return opts, parseError("unexpected argument " + strconv.Quote(arg) + " (display arguments go after --)")
		}
		key, value, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		switch key {
		case "parent", "name", "cores", "memory-mb", "poll":
		default:
			return opts, parseError("unknown flag --" + key)
		}
		if !hasValue {
			if i+1 >= len(args) {
				return opts, parseError("--" + key + " needs a value")
			}
			i++
			value = args[i]
		}
		var err error
		switch key {
		case "parent":
			opts.parent, err = strconv.Atoi(value)
		case "name":
			opts.name = value
		case "cores":
			opts.cores, err = strconv.ParseFloat(value, 64)
		case "memory-mb":
			opts.memoryMB, err = strconv.ParseFloat(value, 64)
		case "poll":
			opts.poll, err = time.ParseDuration(value)
		}
		if err != nil {
			return opts, parseError("--" + key + ": invalid value " + strconv.Quote(value))
		}
	}
	switch {
	case opts.parent <= 0:
		return opts, parseError("--parent is required: the PID of the loadsim process")
	case !(opts.cores >= 0) || math.IsInf(opts.cores, 0):
		return opts, parseError("--cores must be a non-negative number, got " + strconv.FormatFloat(opts.cores, 'g', -1, 64))
	case !(opts.memoryMB >= 0) || math.IsInf(opts.memoryMB, 0):
		return opts, parseError("--memory-mb must be a non-negative number, got " + strconv.FormatFloat(opts.memoryMB, 'g', -1, 64))
	case opts.poll <= 0:
		return opts, parseError("--poll must be positive, got " + opts.poll.String())
	}
	return opts, nil
}

// setProcessName sets the name the kernel reports for this process. The
// process's name is its main thread's comm; prctl(PR_SET_NAME) would only
// rename whichever thread the Go scheduler runs us on, so write the main
// thread's comm file, which any thread of the process may do.
func setProcessName(name string) error {
	fd, err := syscall.Open("/proc/self/task/"+strconv.Itoa(syscall.Getpid())+"/comm", syscall.O_WRONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	_, err = syscall.Write(fd, []byte(name))
	return err
}

const pageSize = 4096

// holdMemory maps mb MiB of private anonymous memory, outside the Go heap,
// and writes every page so it is resident.
func holdMemory(mb float64) ([]byte, error) {
	n := int(mb * (1 << 20))
	if n <= 0 {
		return nil, nil
	}
	buf, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil, err
	}
	for i := 0; i < len(buf); i += pageSize {
		buf[i] = 1
	}
	return buf, nil
}

// splitCores spreads a CPU share over goroutines of at most one core each.
func splitCores(cores float64) []float64 {
	if cores <= 0 {
		return nil
	}
	n := int(math.Ceil(cores))
	shares := make([]float64, n)
	for i := range shares {
		shares[i] = cores / float64(n)
	}
	return shares
}

// dutyPeriod is how often a busy worker alternates burning and sleeping;
// near-idle workers use a longer one so a thousand of them stay quiet.
func dutyPeriod(share float64) time.Duration {
	if share < 0.05 {
		return time.Second
	}
	return 100 * time.Millisecond
}

// burn spins for share of each period and sleeps the rest, so the
// goroutine uses share of a core on average. It never returns: the process
// ends when its main goroutine does.
func burn(share float64) {
	period := dutyPeriod(share)
	busy := time.Duration(share * float64(period))
	for {
		next := time.Now().Add(period)
		spin(busy)
		time.Sleep(time.Until(next))
	}
}

// burnWatching burns share like burn and returns once the parent is no
// longer ours, checking at least every poll (and at most every duty
// period). The kernel's parent-death signal covers most deaths; this covers
// the rest.
func burnWatching(share float64, parent int, poll time.Duration) {
	period := min(dutyPeriod(share), poll)
	if share <= 0 {
		period = poll
	}
	busy := time.Duration(share * float64(period))
	for {
		next := time.Now().Add(period)
		spin(busy)
		if syscall.Getppid() != parent {
			return
		}
		time.Sleep(time.Until(next))
	}
}

// spinSink keeps the compiler from removing the busy loop.
var spinSink atomic.Uint64

func spin(d time.Duration) {
	if d <= 0 {
		return
	}
	var x uint64
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
		for i := 0; i < 1000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	spinSink.Add(x)
}
