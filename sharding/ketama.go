package sharding

import (
	"crypto/md5"
	"encoding/binary"
	"math"
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

// buildKetama returns the sorted continuum of shards (already validated:
// unique non-empty names, weights >= 1), packed as point<<32 | shard index.
func buildKetama(shards []Shard) ([]uint64, error) {
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
			return nil, specErr("ketama: shard %d (%q): weight %d of total %d is too small to get any ring point",
				i, sh.Name, sh.Weight, total)
		}
		digests += counts[i]
	}
	ring := make([]uint64, 0, 4*digests)
	var buf []byte
	for i, sh := range shards {
		for k := range counts[i] {
			buf = append(buf[:0], sh.Name...)
			buf = append(buf, '-')
			buf = strconv.AppendInt(buf, int64(k), 10)
			d := md5.Sum(buf)
			for j := 0; j < md5.Size; j += 4 {
				point := binary.LittleEndian.Uint32(d[j:])
				ring = append(ring, uint64(point)<<32|uint64(i))
			}
		}
	}
	slices.Sort(ring)
	return ring, nil
}

// ketamaLocate returns the shard that owns key hash h.
func ketamaLocate(ring []uint64, h uint32) int {
	return int(uint32(ring[ketamaIndex(ring, h)]))
}

// ketamaIndex returns the index of the first point >= h, wrapping past the
// last point to the first.
func ketamaIndex(ring []uint64, h uint32) int {
	// Every packed point with value >= h compares >= h<<32, whatever its
	// shard bits; every smaller point compares below it.
	i, _ := slices.BinarySearch(ring, uint64(h)<<32)
	if i == len(ring) {
		i = 0
	}
	return i
}
