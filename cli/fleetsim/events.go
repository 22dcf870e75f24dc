package fleetsim

import (
	"slices"
	"time"
)

func (f *Fleet) connectedChanged(up bool) {
	if up {
		f.connected.Add(1)
	} else {
		f.connected.Add(-1)
	}
}

func (f *Fleet) firstConnect() {
	if int(f.everConnected.Add(1)) == f.o.Count {
		f.allConnectedAt.CompareAndSwap(0, int64(max(time.Since(f.begun), 1)))
	}
}

func (f *Fleet) outcomeChanged(from, to outcome) {
	for _, c := range []struct {
		o outcome
		d int64
	}{{from, -1}, {to, 1}} {
		switch c.o {
		case outcomeApplying:
			f.applying.Add(c.d)
		case outcomeApplied:
			f.applied.Add(c.d)
		case outcomeFailed:
			f.failedN.Add(c.d)
		}
	}
}

// received records a configuration arriving now, in the current push wave
// or a new one, and returns the wave.
func (f *Fleet) received(now time.Time) *wave {
	f.configs.Add(1)
	f.wavesMu.Lock()
	defer f.wavesMu.Unlock()
	var w *wave
	if n := len(f.waves); n > 0 {
		last := f.waves[n-1]
		last.mu.Lock()
		if now.Sub(last.last) <= f.waveGap {
			w = last
		}
		last.mu.Unlock()
	}
	if w == nil {
		w = &wave{start: now}
		f.waves = append(f.waves, w)
		if len(f.waves) > maxWaves {
			f.waves = slices.Delete(f.waves, 0, len(f.waves)-maxWaves)
		}
	}
	w.mu.Lock()
	if now.After(w.last) {
		w.last = now
	}
	w.received = append(w.received, max(now.Sub(w.start), 0))
	w.mu.Unlock()
	return w
}
