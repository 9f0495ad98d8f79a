package ratelimit

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"
)

func TestLocalAllowsLimitThenDenies(t *testing.T) {
	tests := []struct {
		limit  int
		window time.Duration
	}{
		{1, time.Second},
		{5, time.Second},
		{50, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d per %v", tt.limit, tt.window), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := NewLocal(tt.limit, tt.window)
				ctx := t.Context()
				for i := range tt.limit {
					if ok, _, err := l.Allow(ctx, "1.2.3.4"); !ok || err != nil {
						t.Fatalf("request %d of %d refused (err %v)", i+1, tt.limit, err)
					}
				}
				time.Sleep(tt.window / 4)
				ok, retry, err := l.Allow(ctx, "1.2.3.4")
				if ok || err != nil {
					t.Fatalf("request over the limit: ok=%v err=%v", ok, err)
				}
				if want := tt.window - tt.window/4; retry != want {
					t.Errorf("retryAfter = %v, want %v (the rest of the window)", retry, want)
				}
				if ok, _, _ := l.Allow(ctx, "5.6.7.8"); !ok {
					t.Error("another client was refused")
				}
				time.Sleep(retry)
				if ok, _, _ := l.Allow(ctx, "1.2.3.4"); !ok {
					t.Error("refused after retryAfter elapsed")
				}
			})
		})
	}
}

func TestLocalSweepsIdleKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLocal(10, time.Second, DefaultMaxKeys)
		ctx := t.Context()
		for i := range 1000 {
			_, _, _ = l.Allow(ctx, fmt.Sprintf("10.0.%d.%d", i/256, i%256))
		}
		if n := len(l.windows); n != 1000 {
			t.Fatalf("%d windows tracked, want 1000", n)
		}
		time.Sleep(2 * time.Second)
		_, _, _ = l.Allow(ctx, "192.0.2.1")
		if n := len(l.windows); n != 1 {
			t.Errorf("%d windows after the others went idle, want 1", n)
		}
	})
}

func TestLocalBoundedKeys(t *testing.T) {
	l := newLocal(1, time.Hour, 100)
	ctx := t.Context()
	for i := range 10_000 {
		_, _, _ = l.Allow(ctx, fmt.Sprintf("key-%d", i))
	}
	if n := len(l.windows); n > 100 {
		t.Errorf("%d windows tracked, bound is 100", n)
	}
	// The newest key is tracked: its second request is refused.
	if ok, _, _ := l.Allow(ctx, "key-9999"); ok {
		t.Error("the latest key lost its window")
	}
}

func TestLocalConcurrent(t *testing.T) {
	l := NewLocal(100, time.Hour)
	ctx := t.Context()
	allowed := make(chan bool, 400)
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 100 {
				ok, _, _ := l.Allow(ctx, "shared")
				allowed <- ok
			}
		}()
	}
	for range 4 {
		<-done
	}
	close(allowed)
	n := 0
	for ok := range allowed {
		if ok {
			n++
		}
	}
	if n != 100 {
		t.Errorf("%d of 400 concurrent requests allowed, want exactly 100", n)
	}
}
