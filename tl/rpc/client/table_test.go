package client

import (
	"math/rand/v2"
	"testing"
)

// TestTable runs random puts and removes against a map, with ids that
// collide in the table (sequential, and multiples of the table size).
func TestTable(t *testing.T) {
	cases := []struct {
		name string
		id   func(r *rand.Rand, i int) int64
	}{
		{"sequential", func(_ *rand.Rand, i int) int64 { return int64(i + 1) }},
		{"random", func(r *rand.Rand, _ int) int64 { return r.Int64N(1<<20) + 1 }},
		{"strided", func(_ *rand.Rand, i int) int64 { return int64(i+1) << 32 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var tab table
			want := map[int64]*call{}
			for i := range 20000 {
				id := tc.id(r, i)
				if c, ok := want[id]; ok {
					if r.IntN(2) == 0 && !tab.remove(id, &call{}) {
						// removing with the wrong call is refused
					} else if !tab.remove(id, c) {
						t.Fatalf("op %d: remove %d failed", i, id)
					} else {
						delete(want, id)
					}
				} else if len(want) < 3000 {
					c := &call{qid: id}
					tab.put(id, c)
					want[id] = c
				}
				if r.IntN(7) == 0 { // remove a random present id
					for id, c := range want {
						if !tab.remove(id, c) {
							t.Fatalf("op %d: remove %d failed", i, id)
						}
						delete(want, id)
						break
					}
				}
			}
			if tab.n != len(want) {
				t.Fatalf("table has %d, want %d", tab.n, len(want))
			}
			for id, c := range want {
				if got := tab.get(id); got != c {
					t.Fatalf("get %d = %p, want %p", id, got, c)
				}
			}
			for id := range int64(5000) {
				if _, ok := want[id+1]; !ok && tab.get(id+1) != nil {
					t.Fatalf("get %d found a removed id", id+1)
				}
			}
		})
	}
}

func TestTableNoAllocs(t *testing.T) {
	var tab table
	c := &call{}
	tab.put(1, c)
	tab.remove(1, c)
	id := int64(1)
	allocs := testing.AllocsPerRun(1000, func() {
		id++
		tab.put(id, c)
		tab.get(id)
		tab.remove(id, c)
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per put/get/remove", allocs)
	}
}
