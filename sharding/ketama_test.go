package sharding

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// workedExample is sharding.md's three-shard ring, confirmed against
// twemproxy 0.5.0.
func workedExample(t *testing.T, hash KeyHash) *Picker {
	t.Helper()
	p, err := NewPicker(Spec{Mode: ModeKetama, Hash: hash, Shards: []Shard{
		{Name: "127.0.0.1:6379"}, {Name: "127.0.0.1:6380"}, {Name: "127.0.0.1:6381"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// point packs a ring point as the ring stores it: the hash in the high 32
// bits, the shard index in the low ones.
func point(hash uint32, shard uint32) uint64 { return uint64(hash)<<32 | uint64(shard) }

func TestKetamaWorkedExampleRing(t *testing.T) {
	p := workedExample(t, "")
	if got := len(p.ring.points); got != 480 {
		t.Fatalf("ring has %d points, want 480", got)
	}
	first, last := p.ring.points[0], p.ring.points[len(p.ring.points)-1]
	if first != point(0x0132528e, 0) {
		t.Errorf("first point = %#x shard %d, want 0x0132528e shard 0", first>>32, uint32(first))
	}
	if last != point(0xffa67730, 2) {
		t.Errorf("last point = %#x shard %d, want 0xffa67730 shard 2", last>>32, uint32(last))
	}

	d := md5.Sum([]byte("127.0.0.1:6379-0"))
	if got := hex.EncodeToString(d[:]); got != "0657b78baa661008fec6986c779eff28" {
		t.Fatalf("md5 = %s", got)
	}
	for _, pt := range []uint32{0x8bb75706, 0x081066aa, 0x6c98c6fe, 0x28ff9e77} {
		got := p.ring.points[p.ring.search(pt)]
		if got != point(pt, 0) {
			t.Errorf("point %#x: ring has %#x shard %d, want it owned by shard 0", pt, got>>32, uint32(got))
		}
	}
	perShard := make([]int, 3)
	for _, pt := range p.ring.points {
		perShard[uint32(pt)]++
	}
	for i, c := range perShard {
		if c != 160 {
			t.Errorf("shard %d has %d points, want 160", i, c)
		}
	}
}

func TestKetamaWorkedExampleKeys(t *testing.T) {
	tests := []struct {
		key               string
		md5Hash, md5Point uint32
		md5Shard          int
		fnvHash, fnvPoint uint32
		fnvShard          int
	}{
		{"foo", 0xdb18bdac, 0xdb3472f3, 0, 0xfed9d577, 0xfeeb4873, 2},
		{"bar", 0x191db537, 0x19461906, 2, 0x1339461a, 0x13529d55, 0},
		{"hello", 0x2a40415d, 0x2a5b06ec, 0, 0x80aabd0b, 0x80dd3194, 0},
		{"user:1000", 0x2e986207, 0x2ee74f22, 2, 0xae7b4289, 0xaf7dad37, 2},
		{"a", 0xb975c10c, 0xb9cbe8ef, 2, 0x8601ec8c, 0x862a7e36, 0},
		{"VDEAAAAA", 0xfffcd1b5, 0x0132528e, 0, 0x3d2ffce9, 0x3d55289a, 2}, // md5 wraps
	}
	pm, pf := workedExample(t, HashMD5), workedExample(t, HashFNV1a64)
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			for _, c := range []struct {
				name        string
				p           *Picker
				hash, point uint32
				shard       int
			}{
				{"md5", pm, tt.md5Hash, tt.md5Point, tt.md5Shard},
				{"fnv1a_64", pf, tt.fnvHash, tt.fnvPoint, tt.fnvShard},
			} {
				h := c.p.hash32([]byte(tt.key))
				if h != c.hash {
					t.Errorf("%s: key hash = %#x, want %#x", c.name, h, c.hash)
				}
				if pt := uint32(c.p.ring.points[c.p.ring.search(h)] >> 32); pt != c.point {
					t.Errorf("%s: point = %#x, want %#x", c.name, pt, c.point)
				}
				if got, err := c.p.Pick([]byte(tt.key)); err != nil || got != c.shard {
					t.Errorf("%s: Pick = %d, %v; want %d", c.name, got, err, c.shard)
				}
			}
		})
	}
}

func TestKetamaDigests(t *testing.T) {
	tests := []struct {
		name                   string
		weight, total, n, want int
	}{
		{"n=1", 1, 1, 1, 40},
		{"n=3", 1, 3, 3, 40},
		{"n=10", 1, 10, 10, 40},
		{"n=16", 1, 16, 16, 40},
		{"n=25", 1, 25, 25, 39},
		{"n=47", 1, 47, 47, 39},
		{"n=50", 1, 50, 50, 39},
		{"n=55", 1, 55, 55, 39},
		{"n=61", 1, 61, 61, 39},
		{"n=71", 1, 71, 71, 39},
		{"n=94", 1, 94, 94, 39},
		{"n=100", 1, 100, 100, 39},
		{"weight 2 of 4, n=3", 2, 4, 3, 60},
		{"weight 1 of 4, n=3", 1, 4, 3, 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ketamaDigests(tt.weight, tt.total, tt.n); got != tt.want {
				t.Errorf("ketamaDigests(%d, %d, %d) = %d, want %d", tt.weight, tt.total, tt.n, got, tt.want)
			}
		})
	}
}

// TestKetamaIndex checks exact owners on a hand-made ring, including a tie
// between two shards on one point and the wrap-around.
func TestKetamaIndex(t *testing.T) {
	ring := newKetamaRing([]uint64{point(5, 1), point(5, 3), point(9, 0), point(0xffffffff, 2)})
	tests := []struct {
		name  string
		h     uint32
		shard int
	}{
		{"below first", 0, 1},
		{"tie goes to lower shard", 5, 1},
		{"between", 6, 0},
		{"exact", 9, 0},
		{"last point", 0xfffffffe, 2},
		{"max hash", 0xffffffff, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ring.locate(tt.h); got != tt.shard {
				t.Errorf("locate(%#x) = %d, want %d", tt.h, got, tt.shard)
			}
		})
	}
	wrap := newKetamaRing([]uint64{point(5, 1), point(9, 0)})
	if got := wrap.locate(10); got != 1 {
		t.Errorf("past the last point = %d, want wrap to shard 1", got)
	}
}

// TestKetamaBucketsMatchBinarySearch checks the bucket index against a plain
// binary search over the whole ring, for ring sizes around bucket boundaries
// and hashes at bucket edges.
func TestKetamaBucketsMatchBinarySearch(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 3, 4, 7, 8, 9, 100, 640, 4096, 5000} {
		t.Run(fmt.Sprintf("points=%d", n), func(t *testing.T) {
			points := make([]uint64, n)
			for i := range points {
				points[i] = uint64(r.Uint32())<<32 | uint64(r.IntN(5))
			}
			slices.Sort(points)
			ring := newKetamaRing(points)
			hashes := []uint32{0, 1, 0xffffffff, 0x80000000, 0x7fffffff}
			for range 2000 {
				hashes = append(hashes, r.Uint32())
			}
			for _, p := range points[:min(n, 50)] {
				hashes = append(hashes, uint32(p>>32), uint32(p>>32)-1, uint32(p>>32)+1)
			}
			for _, h := range hashes {
				want, _ := slices.BinarySearch(points, uint64(h)<<32)
				if want == n {
					want = 0
				}
				if got := ring.search(h); got != want {
					t.Fatalf("search(%#x) = %d, want %d", h, got, want)
				}
			}
		})
	}
}

func memcachedShards(n int) []Shard {
	shards := make([]Shard, n)
	for i := range shards {
		shards[i] = Shard{Name: DefaultShardName(fmt.Sprintf("10.0.0.%d:11211", i+1))}
	}
	return shards
}

// TestKetamaRelocation adds an 11th shard to 10: about 1/11 of keys move, all
// of them to the new shard.
func TestKetamaRelocation(t *testing.T) {
	for _, hash := range ModeKetama.KeyHashes() {
		if hash == HashFNV1a64 {
			continue // too weak a hash for a statistical bound; see sharding.md
		}
		t.Run(string(hash), func(t *testing.T) {
			before, err := NewPicker(Spec{Mode: ModeKetama, Hash: hash, Shards: memcachedShards(10)})
			if err != nil {
				t.Fatal(err)
			}
			after, err := NewPicker(Spec{Mode: ModeKetama, Hash: hash, Shards: memcachedShards(11)})
			if err != nil {
				t.Fatal(err)
			}
			const keys = 100_000
			moved := 0
			for i := range keys {
				k := []byte(fmt.Sprintf("user:%d", i))
				a, _ := before.Pick(k)
				b, _ := after.Pick(k)
				if a == b {
					continue
				}
				if b != 10 {
					t.Fatalf("key %s moved from old shard %d to old shard %d", k, a, b)
				}
				moved++
			}
			frac := float64(moved) / keys
			if frac < 0.05 || frac > 0.14 {
				t.Errorf("%.3f of keys moved, want about 1/11 (0.05..0.14)", frac)
			}
		})
	}
}

func TestKetamaWeights(t *testing.T) {
	shards := memcachedShards(4)
	shards[1].Weight = 2
	p, err := NewPicker(Spec{Mode: ModeKetama, Shards: shards})
	if err != nil {
		t.Fatal(err)
	}
	counts := countKeys(t, p, 100_000)
	others := float64(counts[0]+counts[2]+counts[3]) / 3
	if ratio := float64(counts[1]) / others; ratio < 1.7 || ratio > 2.3 {
		t.Errorf("weight-2 shard got %.2f x the keys of a weight-1 shard (counts %v), want about 2", ratio, counts)
	}
}
