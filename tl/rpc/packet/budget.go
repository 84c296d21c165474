package packet

import "sync/atomic"

// Budget caps the bytes that the connections sharing it hold for peers
// that are not taking them: frames queued on a connection while a write
// of it is in progress or has fallen short (the kernel's send buffer is
// full). A connection whose peer reads promptly has its bytes written at
// once and holds nothing, so it never touches the Budget: the accounting
// costs only the connections that are behind, and a connection is charged
// for exactly what it holds.
//
// Over the cap, TryWritePacketIn refuses plain writes (over == 0) on a
// connection that already holds bytes; the caller answers with something
// short instead (the server: CONGESTION_CONTROL_DISCARD, within its error
// slack). Connections that hold nothing are never refused, so one slow
// peer cannot stop the answers of the others. Others may charge the
// Budget too (Charge), for bytes they hold on behalf of the same peers.
//
// The zero Budget has no cap and counts. It is safe for concurrent use.
type Budget struct {
	held  atomic.Int64
	limit atomic.Int64 // 0: no cap
}

// NewBudget returns a Budget capped at limit bytes (0: no cap).
func NewBudget(limit int64) *Budget {
	b := &Budget{}
	b.SetLimit(limit)
	return b
}

// SetLimit changes the cap (0: no cap); it applies to the next writes.
func (b *Budget) SetLimit(limit int64) { b.limit.Store(max(limit, 0)) }

// Limit returns the cap, 0 for none.
func (b *Budget) Limit() int64 { return b.limit.Load() }

// Held returns the bytes charged now.
func (b *Budget) Held() int64 { return b.held.Load() }

// Over reports whether the charged bytes have reached the cap.
func (b *Budget) Over() bool {
	l := b.limit.Load()
	return l > 0 && b.held.Load() >= l
}

// Charge adds n bytes (negative n gives them back).
func (b *Budget) Charge(n int64) { b.held.Add(n) }

// rechargeLocked brings c's charge to the bytes it holds now: everything
// queued and not yet written, or nothing once the connection has failed
// (its pending bytes are dropped). wmu held; a no-op without a Budget or
// when the charge is right already, which is the common case.
func (c *Conn) rechargeLocked() {
	if c.budget == nil {
		return
	}
	want := c.queued - c.written
	if c.werr != nil {
		want = 0
	}
	if d := want - c.charged; d != 0 {
		c.budget.Charge(d)
		c.charged = want
	}
}
