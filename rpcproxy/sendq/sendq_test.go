package sendq

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// logWriter records every packet it is asked to write; gate, when set,
// blocks each write until a value arrives.
type logWriter struct {
	mu   sync.Mutex
	got  []string
	gate chan struct{}
	fail error
	note chan struct{}
}

func (w *logWriter) WritePacket(typ uint32, head, body []byte) error {
	if w.gate != nil {
		<-w.gate
	}
	w.mu.Lock()
	w.got = append(w.got, fmt.Sprintf("%08x:%s%s", typ, head, body))
	w.mu.Unlock()
	if w.note != nil {
		w.note <- struct{}{}
	}
	return w.fail
}

func (w *logWriter) log() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.got...)
}

func TestOrderAndDrain(t *testing.T) {
	defer goleak.VerifyNone(t)
	q := New(1 << 10)
	w := &logWriter{}
	done := make(chan error)
	go func() { done <- q.Run(w) }()
	for i := range 5 {
		if err := q.Push(uint32(i), []byte("h"), []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	q.CloseDrain()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	want := []string{"00000000:h0", "00000001:h1", "00000002:h2", "00000003:h3", "00000004:h4"}
	if got := w.log(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("wrote %v, want %v", got, want)
	}
	if err := q.Push(1, nil, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("push after close: %v", err)
	}
}

func TestFullNeverBlocks(t *testing.T) {
	defer goleak.VerifyNone(t)
	q := New(64)
	w := &logWriter{gate: make(chan struct{})}
	done := make(chan error)
	go func() { done <- q.Run(w) }()
	body := bytes.Repeat([]byte("x"), 20)
	// The first packet is taken by the blocked writer; the queue then fills.
	var full bool
	for i := 0; i < 100 && !full; i++ {
		err := q.Push(1, nil, body)
		switch {
		case errors.Is(err, ErrFull):
			full = true
		case err != nil:
			t.Fatal(err)
		}
	}
	if !full {
		t.Fatal("queue never reported full")
	}
	if q.Len() > 64 {
		t.Fatalf("queued %d bytes over the limit 64", q.Len())
	}
	q.Close()
	close(w.gate)
	<-done
}

func TestLargePacketIntoEmptyQueue(t *testing.T) {
	q := New(16)
	if err := q.Push(1, nil, make([]byte, 100)); err != nil {
		t.Fatalf("large packet into an empty queue: %v", err)
	}
	if err := q.Push(1, nil, []byte("x")); !errors.Is(err, ErrFull) {
		t.Fatalf("second packet: %v", err)
	}
}

func TestWriterFailureCloses(t *testing.T) {
	defer goleak.VerifyNone(t)
	q := New(1 << 10)
	boom := errors.New("boom")
	w := &logWriter{fail: boom}
	done := make(chan error)
	go func() { done <- q.Run(w) }()
	_ = q.Push(1, nil, []byte("a"))
	select {
	case err := <-done:
		if !errors.Is(err, boom) {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	if err := q.Push(1, nil, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("push after failure: %v", err)
	}
}

func TestPushDoesNotAllocate(t *testing.T) {
	q := New(1 << 20)
	body := make([]byte, 64)
	if n := testing.AllocsPerRun(1000, func() {
		if err := q.Push(1, body[:8], body); err != nil {
			t.Fatal(err)
		}
		q.mu.Lock()
		q.buf = q.buf[:0]
		q.mu.Unlock()
	}); n != 0 {
		t.Fatalf("%v allocs per push", n)
	}
}
