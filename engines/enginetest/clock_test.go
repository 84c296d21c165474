package enginetest

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	start := time.Unix(1000, 0)
	c := NewClock(start)
	var fired []string
	c.AfterFunc(3*time.Second, func() { fired = append(fired, "3s") })
	c.AfterFunc(time.Second, func() {
		fired = append(fired, "1s")
		// Armed while advancing, and due within the same Advance.
		c.AfterFunc(time.Second, func() { fired = append(fired, "1s+1s") })
	})
	stopped := c.AfterFunc(2*time.Second, func() { fired = append(fired, "stopped") })
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop should succeed once")
	}
	c.AfterFunc(10*time.Second, func() { fired = append(fired, "10s") })

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := c.WaitTimers(ctx, 3); err != nil {
		t.Fatal(err)
	}
	c.Advance(3 * time.Second)
	if want := []string{"1s", "1s+1s", "3s"}; !slices.Equal(fired, want) {
		t.Fatalf("fired %v, want %v", fired, want)
	}
	if got := c.Now(); !got.Equal(start.Add(3 * time.Second)) {
		t.Fatalf("Now %v", got)
	}
	if c.Timers() != 1 {
		t.Fatalf("%d timers pending, want 1", c.Timers())
	}
	short, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if err := c.WaitTimers(short, 5); err == nil {
		t.Fatal("WaitTimers returned without enough timers")
	}
}
