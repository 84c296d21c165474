package client

import "math/bits"

// table maps query ids to pending calls: open addressing with linear
// probing and backward-shift deletion (no tombstones), so a steady load
// never allocates and never degrades. It grows at half full and never
// shrinks. Query ids are never 0, so qid 0 marks an empty slot.
type table struct {
	e     []entry
	n     int
	shift uint // 64 - log2(len(e))
}

type entry struct {
	qid int64
	c   *call
}

const minTable = 64

func (t *table) home(qid int64) int {
	// Fibonacci hashing spreads sequential ids over the whole table.
	return int((uint64(qid) * 0x9E3779B97F4A7C15) >> t.shift)
}

func (t *table) get(qid int64) *call {
	if t.n == 0 {
		return nil
	}
	mask := len(t.e) - 1
	for i := t.home(qid); ; i = (i + 1) & mask {
		switch t.e[i].qid {
		case qid:
			return t.e[i].c
		case 0:
			return nil
		}
	}
}

func (t *table) put(qid int64, c *call) {
	if 2*(t.n+1) > len(t.e) {
		t.grow()
	}
	mask := len(t.e) - 1
	i := t.home(qid)
	for t.e[i].qid != 0 {
		i = (i + 1) & mask
	}
	t.e[i] = entry{qid, c}
	t.n++
}

func (t *table) grow() {
	size := max(minTable, 2*len(t.e))
	old := t.e
	t.e = make([]entry, size)
	t.shift = uint(64 - bits.TrailingZeros(uint(size)))
	t.n = 0
	for _, e := range old {
		if e.qid != 0 {
			t.put(e.qid, e.c)
		}
	}
}

// remove deletes qid if it maps to c and reports whether it did. Whoever
// removes a call owns its completion: this is the one arbiter between the
// reader, the timer, cancellation and connection loss.
func (t *table) remove(qid int64, c *call) bool {
	if t.n == 0 {
		return false
	}
	mask := len(t.e) - 1
	i := t.home(qid)
	for {
		switch t.e[i].qid {
		case 0:
			return false
		case qid:
			if t.e[i].c != c {
				return false
			}
			t.deleteAt(i)
			return true
		}
		i = (i + 1) & mask
	}
}

func (t *table) deleteAt(i int) {
	mask := len(t.e) - 1
	for j := (i + 1) & mask; t.e[j].qid != 0; j = (j + 1) & mask {
		k := t.home(t.e[j].qid)
		// Move e[j] back into the hole at i unless its home lies
		// cyclically in (i, j]: then it is already as close as it can be.
		if (j > i && (k <= i || k > j)) || (j < i && k <= i && k > j) {
			t.e[i] = t.e[j]
			i = j
		}
	}
	t.e[i] = entry{}
	t.n--
}
