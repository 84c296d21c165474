package sharding

import (
	"fmt"
	"math"
	"testing"

	"github.com/buraksezer/consistent"
)

// TestBoundedMatchesLibrary proves Pick places every key where the library's
// own LocateKey does.
func TestBoundedMatchesLibrary(t *testing.T) {
	tests := []struct {
		name       string
		shards     int
		partitions int
		load       float64
	}{
		{"defaults 3", 3, 0, 0},
		{"defaults 10", 10, 0, 0},
		{"64 shards 1021 partitions", 64, 1021, 1.1},
		{"tight load", 7, 97, 1},
		{"one partition per shard", 5, 5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Spec{Mode: ModeBounded, Shards: names(tt.shards), Partitions: tt.partitions, Load: tt.load}
			p := mustPicker(t, s)
			ns, err := s.normalized()
			if err != nil {
				t.Fatal(err)
			}
			members := make([]consistent.Member, tt.shards)
			for i, sh := range ns.Shards {
				members[i] = boundedMember(sh.Name)
			}
			lib := newBoundedRing(members, ns.Partitions, ns.Load)
			index := map[string]int{}
			for i, sh := range ns.Shards {
				index[sh.Name] = i
			}
			for i := range 10_000 {
				key := []byte(fmt.Sprintf("key-%d", i))
				want := index[lib.LocateKey(key).String()]
				if got, err := p.Pick(key); got != want || err != nil {
					t.Fatalf("Pick(%q) = %d, %v; LocateKey says %d", key, got, err, want)
				}
			}
			// The load cap holds on the partition table.
			perShard := make([]int, tt.shards)
			for _, s := range p.parts {
				perShard[s]++
			}
			limit := int(math.Ceil(float64(ns.Partitions) / float64(tt.shards) * ns.Load))
			for i, c := range perShard {
				if c > limit {
					t.Errorf("shard %d owns %d partitions, cap %d", i, c, limit)
				}
			}
		})
	}
}
