package packet

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Batch holds back the writes a reader makes while it works through a
// burst of packets it already has buffered (a pipelined batch of
// requests, a read full of answers), to any number of connections, until
// Flush: the reader calls Flush before it would wait for more input
// (Conn.Buffered false), so the burst leaves in one syscall per
// connection instead of one per packet, with no goroutine hop.
//
// A packet queued in a batch is pending like any other: it counts toward
// WriteBufferLimit, and anything that writes the connection meanwhile (its
// flusher, another writer's inline write, another batch's Flush) writes it
// too. A connection is held by at most one batch at a time. The zero
// Batch is ready; it is safe for concurrent use, though one reader
// goroutine normally owns it. The owner must Flush before it blocks on
// anything but its own read, and when it stops.
type Batch struct {
	mu    sync.Mutex
	conns []*Conn
	// shared: one of conns was flushed by another batch last time, so
	// other readers feed it too (see Flush).
	shared bool
	// sealers run at the next Flush, before the writes (OnFlush).
	sealers, sealing []Sealer

	// The burst's clock reading, read without a lock (every packet of a
	// burst asks for it): base is the first reading the batch ever took,
	// stored once and never changed; now is the burst's reading as an
	// offset from base, or noReading after Flush.
	base atomic.Pointer[time.Time]
	now  atomic.Int64
}

// noReading is Batch.now between a Flush and the next burst's reading.
const noReading = math.MinInt64

// Now returns the burst's time: clock's reading at the first call since
// the last Flush, so a reader working through a burst reads the clock
// once, not once per packet (on VMs a clock read costs as much as parsing
// a request). The owner flushes before it waits for input, so the reading
// is never older than the burst's own work. A nil Batch reads clock.
//
// The reading is kept as an offset from the batch's first one: with
// time.Now, the monotonic reading is exact and the wall reading moves with
// it (a step of the wall clock since the first reading does not show);
// with a clock that has no monotonic reading (a test's), both are exact.
func (b *Batch) Now(clock func() time.Time) time.Time {
	if b == nil {
		return clock()
	}
	if t, ok := b.reading(); ok {
		return t
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if t, ok := b.reading(); ok {
		return t // another reader of a shared batch took it meanwhile
	}
	t := clock()
	base := b.base.Load()
	if base == nil {
		first := t
		base = &first
		b.base.Store(base)
	}
	b.now.Store(int64(t.Sub(*base)))
	return t
}

// reading returns the burst's clock reading, if taken.
func (b *Batch) reading() (time.Time, bool) {
	base := b.base.Load()
	if base == nil {
		return time.Time{}, false
	}
	d := b.now.Load()
	if d == noReading {
		return time.Time{}, false
	}
	return base.Add(time.Duration(d)), true
}

// Sealer is work held open until its batch's burst ends: a write being
// assembled from the burst's packets (a proxy joining several requests'
// sub-requests to one engine into one call). Seal runs once, at the
// batch's next Flush, after Flush yielded to the other readers and before
// the batch's writes; it may write in b (its packets leave with them).
type Sealer interface {
	Seal(b *Batch)
}

// OnFlush makes the batch's next Flush run s.Seal first.
func (b *Batch) OnFlush(s Sealer) {
	b.mu.Lock()
	b.sealers = append(b.sealers, s)
	b.mu.Unlock()
}

// add records that c has packets waiting for this batch; shared: another
// batch flushed c last.
func (b *Batch) add(c *Conn, shared bool) {
	b.mu.Lock()
	b.conns = append(b.conns, c)
	b.shared = b.shared || shared
	b.mu.Unlock()
}

// Flush writes every connection this batch holds back (see flushBatched
// for who writes each). It never waits for a peer.
//
// When another reader fed one of the connections last time (many app
// connections into one engine connection, several engines answering one
// app connection), Flush first yields the processor once: the other
// readers already runnable finish their bursts and append to the
// connections this batch holds, so each leaves with one write for all of
// them. That is an event loop's "write after the ready list is done",
// without a goroutine hop to a flusher. It yields too when a Sealer
// waits (OnFlush), so the other readers' packets can join what it seals;
// the sealers then run, and their writes leave with the rest. A reader
// that feeds its connections alone, with nothing to seal, never yields.
func (b *Batch) Flush() {
	b.mu.Lock()
	shared := (b.shared && len(b.conns) > 0) || len(b.sealers) > 0
	b.shared = false
	b.mu.Unlock()
	if shared {
		runtime.Gosched()
	}
	b.seal()
	b.mu.Lock()
	conns := b.conns
	b.conns = b.conns[:0]
	b.now.Store(noReading)
	if len(conns) == 0 {
		b.mu.Unlock()
		return
	}
	// Flushing outside the lock would race with adds reusing the slice;
	// each flush is short and never blocks, so hold it.
	for i, c := range conns {
		c.flushBatched(b)
		conns[i] = nil
	}
	b.mu.Unlock()
}

// seal runs the sealers registered since the last Flush, outside the
// lock (a Seal writes in b), and then those the Seals registered (a
// joined call sealed here is written to a UDP engine, whose write waits
// for a Seal of its own), until none is left.
func (b *Batch) seal() {
	for {
		b.mu.Lock()
		if len(b.sealers) == 0 {
			b.mu.Unlock()
			return
		}
		run := b.sealers
		b.sealers, b.sealing = b.sealing[:0], nil
		b.mu.Unlock()
		for i, s := range run {
			s.Seal(b)
			run[i] = nil
		}
		b.mu.Lock()
		b.sealing = run[:0] // reused by the next round's or burst's OnFlush
		b.mu.Unlock()
	}
}

// flushBatched releases c from batch b and gets its pending bytes
// written: by whoever is writing c already; else inline on a plain socket
// (one syscall for the burst, and for the bursts of the other readers
// Flush yielded to); else (encrypted, or not a socket) by c's flusher. It
// records b as the batch that flushed c last.
func (c *Conn) flushBatched(b *Batch) {
	c.wmu.Lock()
	c.batch = nil
	// lastBatch keeps b, and so whatever embeds it (a server connection,
	// an upstream engine), reachable until another batch flushes c: one
	// such object per Conn at most.
	c.lastBatch = b
	switch {
	case len(c.wbuf) == 0 || c.flushing || c.werr != nil:
		c.wmu.Unlock()
	case c.raw != nil:
		c.lastInline = 0 // a burst's one write is not part of the next burst
		c.writeInline()
	default:
		c.wmu.Unlock()
		c.kickFlusher()
	}
}

// Buffered reports whether a whole packet is already buffered, so the
// next ReadPacket will not wait for the network. Reader goroutine only.
func (c *Conn) Buffered() bool { return c.rd.complete() }
