package auth

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"
)

// ErrBusy means every slot stayed taken for the whole wait.
var ErrBusy = errors.New("password hashing busy")

// Slots bounds how many bcrypt computations run at once. A bcrypt at cost
// 12 holds a core for about 250 ms: without a bound a burst of logins pins
// every core and the rest of the API (health probes included) queues behind
// them.
type Slots struct {
	sem  chan struct{}
	wait time.Duration
}

// DefaultSlots leaves one core to the rest of the API: GOMAXPROCS-1, at
// least 1.
func DefaultSlots() int { return max(runtime.GOMAXPROCS(0)-1, 1) }

// NewSlots allows n concurrent holders (DefaultSlots() when n <= 0); an
// Acquire waits at most wait for one.
func NewSlots(n int, wait time.Duration) *Slots {
	if n <= 0 {
		n = DefaultSlots()
	}
	return &Slots{sem: make(chan struct{}, n), wait: wait}
}

// Size is the number of slots.
func (s *Slots) Size() int { return cap(s.sem) }

// Acquire takes a slot, waiting up to the configured wait; release gives it
// back. It fails with ErrBusy when none frees up in time, or with ctx's
// error.
func (s *Slots) Acquire(ctx context.Context) (release func(), err error) {
	release = func() { <-s.sem }
	select {
	case s.sem <- struct{}{}:
		return release, nil
	default:
	}
	t := time.NewTimer(s.wait)
	defer t.Stop()
	select {
	case s.sem <- struct{}{}:
		return release, nil
	case <-t.C:
		return nil, fmt.Errorf("%w: %d slots taken for %s", ErrBusy, cap(s.sem), s.wait)
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for a password hashing slot: %w", ctx.Err())
	}
}
