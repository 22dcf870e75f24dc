package loadsim // import "github.com/phoenix/platform/cli/loadsim"

import (
	"errors"
	"os/exec"
	"runtime"
	"sync"
)

var errSpawnerClosed = errors.New("spawner closed")

// spawner starts every worker from one goroutine locked to its OS thread.
// The kernel sends a child its parent-death signal when the thread that forked
// it exits, not the process, and Go retires idle threads at will: forking from
// one pinned thread ties every worker's Pdeathsig to a thread that lives as
// long as the run.
type spawner struct {
	reqs      chan spawnRequest
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

type spawnRequest struct {
	cmd  *exec.Cmd
	errc chan error
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan spawnRequest), stop: make(chan struct{}), done: make(chan struct{})}
	go s.loop()
	return s
}

func (s *spawner) loop() {
	// Never unlocked: when the loop ends its thread exits with it, and the
	// kernel kills any worker still alive — a last line of defence after
	// the supervisor has stopped them all.
	runtime.LockOSThread()
	defer close(s.done)
	for {
		select {
		case r := <-s.reqs:
			r.errc <- r.cmd.Start()
		case <-s.stop:
			return
		}
	}
}

// start runs cmd.Start on the spawner's thread.
func (s *spawner) start(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	select {
	case s.reqs <- spawnRequest{cmd: cmd, errc: errc}:
		return <-errc
	case <-s.done:
		return errSpawnerClosed
	}
}

// close ends the spawner's thread, after which start fails.
func (s *spawner) close() {
	s.closeOnce.Do(func() { close(s.stop) })
	<-s.done
}
