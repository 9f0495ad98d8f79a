package ratelimit

import (
	"context"
	"sync"
	"time"
)

// DefaultMaxKeys bounds the clients a local limiter tracks at once.
const DefaultMaxKeys = 100_000

// local is a fixed-window counter per key, in memory. A key's window starts
// at its first request. Windows that have ended are swept at most once per
// window length; past maxKeys live windows, arbitrary ones are dropped,
// which can only make the limiter more lenient, never unbounded.
type local struct {
	limit   int
	window  time.Duration
	maxKeys int

	mu        sync.Mutex
	windows   map[string]*fixedWindow
	nextSweep time.Time
}

type fixedWindow struct {
	count int
	end   time.Time
}

// NewLocal returns an in-process limiter allowing limit requests per key
// per window (at least 1 each), tracking at most DefaultMaxKeys keys.
func NewLocal(limit int, window time.Duration) Limiter {
	return newLocal(limit, window, DefaultMaxKeys)
}

func newLocal(limit int, window time.Duration, maxKeys int) *local {
	return &local{
		limit:   max(limit, 1),
		window:  max(window, time.Millisecond),
		maxKeys: max(maxKeys, 1),
		windows: map[string]*fixedWindow{},
	}
}

func (l *local) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !now.Before(l.nextSweep) {
		l.sweep(now)
	}
	w := l.windows[key]
	if w == nil || !now.Before(w.end) {
		if w == nil {
			l.makeRoom()
			w = &fixedWindow{}
			l.windows[key] = w
		}
		w.count, w.end = 0, now.Add(l.window)
	}
	w.count++
	if w.count > l.limit {
		return false, w.end.Sub(now), nil
	}
	return true, 0, nil
}

// sweep drops the windows that have ended: their keys are idle.
func (l *local) sweep(now time.Time) {
	for k, w := range l.windows {
		if !now.Before(w.end) {
			delete(l.windows, k)
		}
	}
	l.nextSweep = now.Add(l.window)
}

func (l *local) makeRoom() {
	for k := range l.windows { // map order is random: no key is favoured
		if len(l.windows) < l.maxKeys {
			return
		}
		delete(l.windows, k)
	}
}
