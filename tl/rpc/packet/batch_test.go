package packet

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"
)

// TestBatchHoldsUntilFlush: writes in a batch stay pending (held by it)
// until Flush, then leave in order with one write, so the peer's first
// read holds them all (Buffered reports the rest after one ReadPacket).
func TestBatchHoldsUntilFlush(t *testing.T) {
	defer verifyNoLeaks(t)
	c, s := plainPair(t)
	defer c.Close()
	defer s.Close()
	var b Batch
	body := make([]byte, 8)
	for i := range 3 {
		binary.LittleEndian.PutUint32(body, uint32(i))
		if ok, err := c.TryWritePacketIn(&b, 0, 9, nil, body); !ok || err != nil {
			t.Fatalf("write %d: %v %v", i, ok, err)
		}
	}
	c.wmu.Lock()
	pending, held := len(c.wbuf), c.batch == &b
	c.wmu.Unlock()
	if pending != 3*(8+packetOverhead) || !held {
		t.Fatalf("before Flush: %d bytes pending, held %v; want 3 packets held", pending, held)
	}
	b.Flush()
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		r := waitRecv(t, readAsync(s), 5*time.Second)
		if r.err != nil || r.typ != 9 || binary.LittleEndian.Uint32(r.body) != uint32(i) {
			t.Fatalf("packet %d: %#x %x %v", i, r.typ, r.body, r.err)
		}
	}
	c.wmu.Lock()
	held = c.batch != nil
	c.wmu.Unlock()
	if held {
		t.Fatal("still held after Flush")
	}
}

// TestBufferedAfterOneWrite: packets that arrive in one read are reported
// buffered until the last one is taken.
func TestBufferedAfterOneWrite(t *testing.T) {
	defer verifyNoLeaks(t)
	c, s := plainPair(t)
	defer c.Close()
	defer s.Close()
	var b Batch
	for range 3 {
		if ok, err := c.TryWritePacketIn(&b, 0, 9, nil, make([]byte, 8)); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	b.Flush()
	if s.Buffered() {
		t.Fatal("Buffered before any read")
	}
	var got []bool
	for range 3 {
		if _, _, err := s.ReadPacket(); err != nil {
			t.Fatal(err)
		}
		got = append(got, s.Buffered())
	}
	if !got[0] || !got[1] || got[2] {
		t.Fatalf("Buffered after each of 3 packets from one write: %v, want [true true false]", got)
	}
}

// TestBatchNowOncePerBurst: the clock is read once per burst; Flush ends
// the burst; a nil Batch reads it every time.
func TestBatchNowOncePerBurst(t *testing.T) {
	reads := 0
	clock := func() time.Time {
		reads++
		return time.Unix(int64(reads), 0)
	}
	var b Batch
	for range 3 {
		if got := b.Now(clock); !got.Equal(time.Unix(1, 0)) {
			t.Fatalf("first burst: %v", got)
		}
	}
	b.Flush()
	if got := b.Now(clock); !got.Equal(time.Unix(2, 0)) || reads != 2 {
		t.Fatalf("after Flush: %v, %d reads", got, reads)
	}
	var nb *Batch
	nb.Now(clock)
	nb.Now(clock)
	if reads != 4 {
		t.Fatalf("nil batch: %d reads, want 4", reads)
	}
}

// TestBatchNowReadings: a burst's reading is the clock's, whichever way
// the clock moved since the batch's first one (it is kept as an offset
// from that), and with time.Now it keeps the monotonic reading, so
// deadlines built on it compare as time.Now's own.
func TestBatchNowReadings(t *testing.T) {
	readings := []time.Time{
		time.Unix(1000, 5),
		time.Unix(999, 7),   // backwards
		time.Unix(1000, 5),  // the first again: offset 0
		time.Unix(1<<33, 1), // centuries on
		time.Date(2026, 11, 22, 1, 2, 3, 4, time.UTC),
	}
	var b Batch
	for i, want := range readings {
		clock := func() time.Time { return want }
		if got := b.Now(clock); !got.Equal(want) {
			t.Fatalf("burst %d: %v, want %v", i, got, want)
		}
		if got := b.Now(func() time.Time { t.Fatal("clock read twice in a burst"); return time.Time{} }); !got.Equal(want) {
			t.Fatalf("burst %d, second call: %v, want %v", i, got, want)
		}
		b.Flush()
	}
	var m Batch
	before := time.Now()
	got := m.Now(time.Now)
	m.Flush()
	got2 := m.Now(time.Now)
	if got.Before(before) || got2.Before(got) || !strings.Contains(got2.String(), " m=") {
		t.Fatalf("time.Now readings: %v then %v (before %v): want ordered, with a monotonic reading", got, got2, before)
	}
}

// TestBatchSharedConn: a connection fed by two readers' batches in turn.
// The second batch learns that another one fed the connection last (so
// its Flush yields first), a batch feeding a connection alone does not,
// and the held writes of both leave in order.
func TestBatchSharedConn(t *testing.T) {
	defer verifyNoLeaks(t)
	c, s := plainPair(t)
	defer c.Close()
	defer s.Close()
	var a, b Batch
	body := make([]byte, 8)
	write := func(bt *Batch, i int) {
		t.Helper()
		binary.LittleEndian.PutUint32(body, uint32(i))
		if ok, err := c.TryWritePacketIn(bt, 0, 9, nil, body); !ok || err != nil {
			t.Fatalf("write %d: %v %v", i, ok, err)
		}
	}
	shared := func(bt *Batch) bool {
		bt.mu.Lock()
		defer bt.mu.Unlock()
		return bt.shared
	}
	steps := []struct {
		batch      *Batch
		wantShared bool
	}{
		{&a, false}, // first writer: nobody fed c before
		{&a, false}, // the same reader again
		{&b, true},  // another reader: a flushed c last
		{&b, false}, // b again
		{&a, true},  // and back
	}
	for i, st := range steps {
		write(st.batch, i)
		if got := shared(st.batch); got != st.wantShared {
			t.Errorf("step %d: shared %v, want %v", i, got, st.wantShared)
		}
		st.batch.Flush()
		if shared(st.batch) {
			t.Errorf("step %d: shared not reset by Flush", i)
		}
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := range steps {
		r := waitRecv(t, readAsync(s), 5*time.Second)
		if r.err != nil || r.typ != 9 || binary.LittleEndian.Uint32(r.body) != uint32(i) {
			t.Fatalf("packet %d: %#x %x %v", i, r.typ, r.body, r.err)
		}
	}
}

// sealLog is a Sealer that logs its Seal and writes one packet in the
// batch it is given.
type sealLog struct {
	name string
	log  *[]string
	c    *Conn
}

func (s sealLog) Seal(b *Batch) {
	*s.log = append(*s.log, "seal "+s.name)
	if ok, err := s.c.TryWritePacketIn(b, 0, 9, nil, []byte(s.name + "...")[:4]); !ok || err != nil {
		*s.log = append(*s.log, "write failed")
	}
}

// TestBatchSealsAtFlush: a Sealer registered with OnFlush runs once, at
// the next Flush and not before, in registration order, and what it
// writes in the batch leaves in that Flush's write, after what the burst
// wrote before it; the next Flush runs none. A Sealer that a Seal
// registers runs in the same Flush too, not a burst later.
func TestBatchSealsAtFlush(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sealers func(log *[]string, c *Conn) []Sealer
		want    []string // the seals' names, in the order they run
	}{
		{"registered before", func(log *[]string, c *Conn) []Sealer {
			return []Sealer{sealLog{"one", log, c}, sealLog{"two", log, c}}
		}, []string{"one", "two"}},
		{"registered by a seal", func(log *[]string, c *Conn) []Sealer {
			return []Sealer{chainSeal{sealLog{"one", log, c}, chainSeal{sealLog{"two", log, c}, sealLog{"thr", log, c}}}}
		}, []string{"one", "two", "thr"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer verifyNoLeaks(t)
			c, s := plainPair(t)
			defer c.Close()
			defer s.Close()
			var b Batch
			var log []string
			if ok, err := c.TryWritePacketIn(&b, 0, 9, nil, []byte("burs")); !ok || err != nil {
				t.Fatalf("write: %v %v", ok, err)
			}
			for _, sl := range tc.sealers(&log, c) {
				b.OnFlush(sl)
			}
			if len(log) != 0 {
				t.Fatalf("sealed before Flush: %q", log)
			}
			b.Flush()
			seals, packets := []string{}, []string{"burs"} // each seal writes its name and "."
			for _, name := range tc.want {
				seals, packets = append(seals, "seal "+name), append(packets, name+".")
			}
			if got, want := strings.Join(log, ", "), strings.Join(seals, ", "); got != want {
				t.Fatalf("Flush ran %q, want %q", got, want)
			}
			for _, want := range packets {
				r := waitRecv(t, readAsync(s), 5*time.Second)
				if r.err != nil || string(r.body) != want {
					t.Fatalf("packet %q %v, want %q", r.body, r.err, want)
				}
			}
			b.Flush()
			if len(log) != len(tc.want) {
				t.Fatalf("a second Flush sealed again: %q", log)
			}
		})
	}
}

// chainSeal is a Sealer that registers next with the batch when it runs,
// as a joined call does when its write goes to a UDP engine.
type chainSeal struct {
	sealLog
	next Sealer
}

func (s chainSeal) Seal(b *Batch) {
	s.sealLog.Seal(b)
	if s.next != nil {
		b.OnFlush(s.next)
	}
}
