package loadsim // import "github.com/phoenix/platform/cli/loadsim"

import (
	"math"
	"time"
)

// startLimiter spreads worker starts: the initial population's starts are
// released evenly over the ramp, and on top of them churn may start up to
// perSecond workers a second (a token bucket holding one second's worth).
type startLimiter struct {
	start     time.Time
	initial   int
	ramp      time.Duration
	perSecond float64

	released int     // initial starts released so far
	rampUsed int     // of which taken
	tokens   float64 // churn starts available
	last     time.Time
}

func newStartLimiter(initial int, ramp time.Duration, perSecond float64, start time.Time) *startLimiter {
	return &startLimiter{start: start, initial: initial, ramp: ramp, perSecond: perSecond, last: start}
}

// advance releases the starts due by now.
func (l *startLimiter) advance(now time.Time) {
	elapsed := now.Sub(l.start)
	switch {
	case l.ramp <= 0 || elapsed >= l.ramp:
		l.released = l.initial
	case elapsed > 0:
		l.released = max(l.released, int(math.Ceil(float64(l.initial)*float64(elapsed)/float64(l.ramp))))
	}
	if dt := now.Sub(l.last).Seconds(); dt > 0 {
		l.tokens = min(l.tokens+dt*l.perSecond, max(1, l.perSecond))
		l.last = now
	}
}

// take reports whether one more worker may start now, and counts it.
func (l *startLimiter) take() bool {
	if l.rampUsed < l.released {
		l.rampUsed++
		return true
	}
	if l.tokens >= 1 {
		l.tokens--
		return true
	}
	return false
}
