package auth

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func TestSlotsBoundAndWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewSlots(2, time.Second)
		ctx := t.Context()
		r1, err1 := s.Acquire(ctx)
		_, err2 := s.Acquire(ctx)
		if err1 != nil || err2 != nil {
			t.Fatalf("two slots of two: %v, %v", err1, err2)
		}
		start := time.Now()
		if _, err := s.Acquire(ctx); !errors.Is(err, ErrBusy) || time.Since(start) != time.Second {
			t.Fatalf("third acquire = %v after %v, want ErrBusy after the 1s wait", err, time.Since(start))
		}
		// A slot freed during the wait is taken.
		go func() { time.Sleep(300 * time.Millisecond); r1() }()
		start = time.Now()
		if _, err := s.Acquire(ctx); err != nil || time.Since(start) != 300*time.Millisecond {
			t.Fatalf("acquire = %v after %v, want a slot after 300ms", err, time.Since(start))
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Acquire(cctx); !errors.Is(err, context.Canceled) {
			t.Errorf("acquire with a cancelled context = %v", err)
		}
	})
}

func TestDefaultSlots(t *testing.T) {
	if n := NewSlots(0, time.Second).Size(); n != DefaultSlots() || n < 1 {
		t.Errorf("default size = %d, want DefaultSlots() = %d (>= 1)", n, DefaultSlots())
	}
}
