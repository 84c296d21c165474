package upstream

import (
	"iter"
	"time"
)

// pending is one call awaiting its answer.
type pending struct {
	call     Call
	link     *link
	start    time.Time
	deadline time.Time
}

// pendingTable is an engine's calls awaiting an answer, found by query id
// without hashing: a query id is a slot index (low 32 bits) and that
// slot's use count (high bits, 1 to 2^31-1, wrapping). A late answer (its
// call timed out or was cancelled, and the slot maybe reused) carries an
// old use count and is not found. Freed slots are reused last-freed first,
// so the table grows to the engine's peak of calls in flight and never
// allocates below it. The zero table is empty. Guarded by Engine.mu.
type pendingTable struct {
	slots []pendingSlot
	free  []uint32 // indexes of unused slots
	n     int      // calls pending
}

type pendingSlot struct {
	qid  int64 // the query id of the call held; 0: unused
	uses uint32
	p    pending
}

// maxUses bounds a slot's use count, so query ids stay positive.
const maxUses = 1<<31 - 1

// add stores p and returns its query id: positive and never 0, as VK's
// clients send.
func (t *pendingTable) add(p pending) int64 {
	var i uint32
	if n := len(t.free); n > 0 {
		i = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		i = uint32(len(t.slots))
		t.slots = append(t.slots, pendingSlot{})
	}
	s := &t.slots[i]
	s.uses = s.uses%maxUses + 1
	s.qid = int64(s.uses)<<32 | int64(i)
	s.p = p
	t.n++
	return s.qid
}

// lookup returns the call with query id qid, if it is pending.
func (t *pendingTable) lookup(qid int64) (*pending, bool) {
	i := uint64(qid) & (1<<32 - 1)
	if qid <= 0 || i >= uint64(len(t.slots)) || t.slots[i].qid != qid {
		return nil, false
	}
	return &t.slots[i].p, true
}

// take removes the call with query id qid and returns it, if it is
// pending.
func (t *pendingTable) take(qid int64) (pending, bool) {
	pp, ok := t.lookup(qid)
	if !ok {
		return pending{}, false
	}
	p := *pp
	i := uint32(qid)
	t.slots[i].qid, t.slots[i].p = 0, pending{}
	t.free = append(t.free, i)
	t.n--
	return p, true
}

// len returns the number of calls pending.
func (t *pendingTable) len() int { return t.n }

// all yields every pending call with its query id; the loop may take the
// call it is given.
func (t *pendingTable) all() iter.Seq2[int64, *pending] {
	return func(yield func(int64, *pending) bool) {
		for i := range t.slots {
			s := &t.slots[i]
			if s.qid != 0 && !yield(s.qid, &s.p) {
				return
			}
		}
	}
}
