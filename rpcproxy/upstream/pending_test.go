package upstream

import (
	"testing"
	"time"
)

// TestPendingTable: query ids are positive, unique among the calls
// pending, and found until taken; an id whose slot was freed (a late
// answer) is not found, also after the slot is reused; ids that never
// were (0, negative, out of range) are not found.
func TestPendingTable(t *testing.T) {
	var tab pendingTable
	at := func(s int) pending { return pending{start: time.Unix(int64(s), 0)} }
	a, b, c := tab.add(at(1)), tab.add(at(2)), tab.add(at(3))
	if a <= 0 || b <= 0 || c <= 0 || a == b || b == c || a == c {
		t.Fatalf("ids %d %d %d: want positive and distinct", a, b, c)
	}
	if tab.len() != 3 {
		t.Fatalf("len %d, want 3", tab.len())
	}
	if p, ok := tab.take(b); !ok || p.start.Unix() != 2 {
		t.Fatalf("take(b) = %v, %v; want the second call", p, ok)
	}
	if _, ok := tab.take(b); ok {
		t.Fatal("b taken twice")
	}
	d := tab.add(at(4)) // reuses b's slot
	if d == b || uint32(d) != uint32(b) {
		t.Fatalf("d = %#x after freeing b = %#x: want b's slot with another use count", d, b)
	}
	if _, ok := tab.lookup(b); ok {
		t.Fatal("late answer for b found after its slot was reused")
	}
	for _, id := range []int64{0, -1, -a, int64(1)<<32 | 7, a + 1<<32} {
		if _, ok := tab.lookup(id); ok {
			t.Fatalf("lookup(%#x) found a call", id)
		}
	}
	got := map[int64]int64{}
	for qid, p := range tab.all() {
		got[qid] = p.start.Unix()
		if qid == c {
			tab.take(c) // taking during the loop
		}
	}
	want := map[int64]int64{a: 1, c: 3, d: 4}
	if len(got) != len(want) || got[a] != 1 || got[c] != 3 || got[d] != 4 {
		t.Fatalf("all() = %v, want %v", got, want)
	}
	if _, ok := tab.lookup(c); ok || tab.len() != 2 {
		t.Fatalf("after taking c in the loop: len %d, c found %v", tab.len(), ok)
	}
}

// TestPendingUsesWrap: a slot's use count wraps before the query id's
// sign bit, and never to 0.
func TestPendingUsesWrap(t *testing.T) {
	var tab pendingTable
	tab.slots = []pendingSlot{{uses: maxUses - 1}}
	tab.free = []uint32{0}
	for _, want := range []int64{maxUses << 32, 1 << 32, 2 << 32} {
		qid := tab.add(pending{})
		if qid != want {
			t.Fatalf("qid %#x, want %#x", qid, want)
		}
		tab.take(qid)
	}
}

// TestPendingNoAllocs: below its peak, the table does not allocate.
func TestPendingNoAllocs(t *testing.T) {
	var tab pendingTable
	ids := make([]int64, 64)
	cycle := func() {
		for i := range ids {
			ids[i] = tab.add(pending{})
		}
		for _, id := range ids {
			tab.take(id)
		}
	}
	cycle()
	if n := testing.AllocsPerRun(100, cycle); n != 0 {
		t.Fatalf("%v allocations per 64 adds and takes, want 0", n)
	}
}
