package sharding

import (
	"crypto/md5"
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
	"strconv"
)

// ketamaPointsPerShard is libketama's points per shard of average weight
// (KETAMA_POINTS_PER_SERVER in twemproxy); each MD5 digest yields 4.
const ketamaPointsPerShard = 160

// ketamaDigests returns how many MD5 digests shard i gets: exactly
// floorf((float)(pct*160/4*(float)n + 1e-10)) with pct = (float)w/(float)W,
// as libmemcached and twemproxy compute it. Every step is rounded to float32
// (the explicit conversions also forbid fused multiply-add), and the 1e-10 is
// a C double, so that one addition happens in float64. float32 rounding gives
// 39 digests instead of 40 for some n (25, 47, 50, ...); matching it is what
// keeps keys where twemproxy put them.
func ketamaDigests(weight, totalWeight, n int) int {
	pct := float32(weight) / float32(totalWeight)
	v := float32(pct * ketamaPointsPerShard)
	v = float32(v / 4)
	v = float32(v * float32(n))
	v = float32(float64(v) + 1e-10)
	return int(math.Floor(float64(v)))
}

// ketamaRing is the sorted continuum plus a bucket index over it.
type ketamaRing struct {
	// points holds point<<32 | shard index, sorted. Packing the shard into
	// the low bits makes the plain sort order break ties by the lower shard
	// index, and a search touches one slice.
	points []uint64
	// buckets[b] is the index of the first point whose top bits (point >>
	// shift) are >= b; it has 1<<bits + 1 entries. A search reads two entries
	// and then scans a few points instead of binary-searching a ring that
	// for 1024 shards (160k points, 1.3 MB) misses the cache at every level.
	buckets []uint32
	shift   uint
}

// ketamaMaxBucketBits bounds the bucket index at 4 MB.
const ketamaMaxBucketBits = 20

// buildKetama returns the continuum of shards (already validated: unique
// non-empty names, weights >= 1).
func buildKetama(shards []Shard) (ketamaRing, error) {
	total := 0
	for _, sh := range shards {
		total += sh.Weight
	}
	counts := make([]int, len(shards))
	digests := 0
	for i, sh := range shards {
		counts[i] = ketamaDigests(sh.Weight, total, len(shards))
		if counts[i] == 0 {
			// A shard without points would silently get no keys.
			return ketamaRing{}, specErr("ketama: shard %d (%q): weight %d of total %d is too small to get any ring point",
				i, sh.Name, sh.Weight, total)
		}
		digests += counts[i]
	}
	points := make([]uint64, 0, 4*digests)
	var buf []byte
	for i, sh := range shards {
		for k := range counts[i] {
			buf = append(buf[:0], sh.Name...)
			buf = append(buf, '-')
			buf = strconv.AppendInt(buf, int64(k), 10)
			d := md5.Sum(buf)
			for j := 0; j < md5.Size; j += 4 {
				point := binary.LittleEndian.Uint32(d[j:])
				points = append(points, uint64(point)<<32|uint64(i))
			}
		}
	}
	slices.Sort(points)
	return newKetamaRing(points), nil
}

// newKetamaRing indexes sorted packed points with about 4 points per bucket.
func newKetamaRing(points []uint64) ketamaRing {
	nbits := max(bits.Len(uint(len(points)))-2, 0)
	nbits = min(nbits, ketamaMaxBucketBits)
	r := ketamaRing{points: points, shift: uint(32 - nbits)}
	r.buckets = make([]uint32, 1<<nbits+1)
	j := 0
	for b := range r.buckets {
		for j < len(points) && points[j]>>32>>r.shift < uint64(b) {
			j++
		}
		r.buckets[b] = uint32(j)
	}
	return r
}

// locate returns the shard that owns key hash h.
func (r *ketamaRing) locate(h uint32) int {
	return int(uint32(r.points[r.search(h)]))
}

// search returns the index of the first point >= h, wrapping past the last
// point to the first.
func (r *ketamaRing) search(h uint32) int {
	b := uint64(h) >> r.shift
	lo, hi := r.buckets[b], r.buckets[b+1]
	// Every packed point with value >= h compares >= h<<32, whatever its
	// shard bits; every smaller point compares below it. Points past this
	// bucket are all >= h, so "none here" means hi.
	i, _ := slices.BinarySearch(r.points[lo:hi], uint64(h)<<32)
	i += int(lo)
	if i == len(r.points) {
		i = 0
	}
	return i
}
