package main

import (
	"math"
	"math/bits"
	"sync/atomic"
)

// The histogram is log-linear, like HdrHistogram: values below 2^subBits
// get a bucket each; above, every power-of-two range [2^k, 2^(k+1)) is cut
// into 2^subBits equal buckets. With subBits = 7 a reported value is at
// most 1/128 (0.8%) above the true one, at any scale, in fixed memory.
const (
	subBits  = 7
	subCount = 1 << subBits
	// maxValue caps recorded values (ns): 2^37 ns is 137 s, beyond any
	// -timeout rpcbench accepts; larger values count as maxValue.
	maxExp   = 37
	maxValue = 1<<maxExp - 1
	nBuckets = (maxExp - subBits + 1) * subCount
)

// hist records latencies in nanoseconds. Record is safe for concurrent use
// and allocates nothing (one atomic add per sample, plus rare max/min
// updates); the other methods read a histogram no one records into, or
// tolerate a slightly torn view (progress lines).
type hist struct {
	counts [nBuckets]atomic.Uint64
	total  atomic.Uint64
	sum    atomic.Uint64 // ns; 2^64 ns is 584 years
	max    atomic.Int64
	min    atomic.Int64 // 0 means no sample yet; samples are stored +1
}

// bucketOf returns the bucket index of v, clamped to [0, maxValue].
func bucketOf(v int64) int {
	if v < 0 {
		v = 0
	}
	if v > maxValue {
		v = maxValue
	}
	u := uint64(v)
	if u < 2*subCount {
		return int(u)
	}
	k := bits.Len64(u) - 1 // 2^k <= u < 2^(k+1), k >= subBits+1
	shift := k - subBits
	return (shift+1)*subCount + int(u>>shift) - subCount
}

// bucketHigh returns the largest value that falls in bucket i.
func bucketHigh(i int) int64 {
	if i < 2*subCount {
		return int64(i)
	}
	shift := i/subCount - 1
	low := int64(i%subCount+subCount) << shift
	return low + (1 << shift) - 1
}

// Record adds one sample of v ns.
func (h *hist) Record(v int64) {
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(v)].Add(1)
	h.total.Add(1)
	h.sum.Add(uint64(v))
	for m := h.max.Load(); v > m; m = h.max.Load() {
		if h.max.CompareAndSwap(m, v) {
			break
		}
	}
	for m := h.min.Load(); m == 0 || v+1 < m; m = h.min.Load() {
		if h.min.CompareAndSwap(m, v+1) {
			break
		}
	}
}

// AddTo adds h's samples to dst (dst must not be recorded into meanwhile
// by anyone else for exact results).
func (h *hist) AddTo(dst *hist) {
	for i := range h.counts {
		if c := h.counts[i].Load(); c != 0 {
			dst.counts[i].Add(c)
		}
	}
	dst.total.Add(h.total.Load())
	dst.sum.Add(h.sum.Load())
	if m := h.max.Load(); m > dst.max.Load() {
		dst.max.Store(m)
	}
	if m := h.min.Load(); m != 0 && (dst.min.Load() == 0 || m < dst.min.Load()) {
		dst.min.Store(m)
	}
}

// Reset forgets every sample.
func (h *hist) Reset() {
	for i := range h.counts {
		h.counts[i].Store(0)
	}
	h.total.Store(0)
	h.sum.Store(0)
	h.max.Store(0)
	h.min.Store(0)
}

// Count is the number of samples.
func (h *hist) Count() uint64 { return h.total.Load() }

// Max is the largest sample (0 if none).
func (h *hist) Max() int64 { return h.max.Load() }

// Min is the smallest sample (0 if none).
func (h *hist) Min() int64 { return max(0, h.min.Load()-1) }

// Mean is the average sample (0 if none).
func (h *hist) Mean() float64 {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	return float64(h.sum.Load()) / float64(n)
}

// Quantile returns the value below or at which a fraction q of the samples
// fall: the upper bound of the bucket holding the ceil(q*n)-th smallest
// sample, capped at Max, so it never understates (0 if no samples).
func (h *hist) Quantile(q float64) int64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	rank = max(1, min(rank, n))
	var seen uint64
	for i := range h.counts {
		if seen += h.counts[i].Load(); seen >= rank {
			v := bucketHigh(i)
			if m := h.Max(); m < v && bucketOf(m) == i {
				v = m // the top bucket holds the max: no sample is above it
			}
			return v
		}
	}
	return h.Max()
}
