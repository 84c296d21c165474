package main

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestBuckets: bucket boundaries are contiguous, ordered and within the
// promised relative error.
func TestBuckets(t *testing.T) {
	prev := -1
	for _, v := range []int64{0, 1, 127, 128, 255, 256, 257, 1000, 1 << 20, 123456789, maxValue} {
		i := bucketOf(v)
		if i < prev || i >= nBuckets {
			t.Fatalf("bucketOf(%d) = %d after %d (of %d)", v, i, prev, nBuckets)
		}
		prev = i
		hi := bucketHigh(i)
		if hi < v || float64(hi-v) > float64(v)/subCount {
			t.Errorf("bucketHigh(bucketOf(%d)) = %d: below v or more than 1/%d above", v, hi, subCount)
		}
		if i > 0 && bucketHigh(i-1) >= v {
			t.Errorf("bucket %d below %d's ends at %d", i-1, v, bucketHigh(i-1))
		}
	}
	for i := 1; i < nBuckets; i++ {
		if bucketOf(bucketHigh(i-1)+1) != i {
			t.Fatalf("value %d after bucket %d lands in %d, want %d", bucketHigh(i-1)+1, i-1, bucketOf(bucketHigh(i-1)+1), i)
		}
	}
	if bucketOf(maxValue*4) != nBuckets-1 || bucketOf(-5) != 0 {
		t.Errorf("clamping: %d %d", bucketOf(maxValue*4), bucketOf(-5))
	}
}

// TestQuantiles compares percentiles on known samples with exact ones.
func TestQuantiles(t *testing.T) {
	uniform := make([]int64, 0, 1000)
	for i := int64(1); i <= 1000; i++ {
		uniform = append(uniform, i*1000) // 1µs .. 1ms
	}
	r := rand.New(rand.NewPCG(1, 2))
	skewed := make([]int64, 0, 5000)
	for range 5000 {
		skewed = append(skewed, int64(r.ExpFloat64()*50_000)+20_000) // tail over ~20µs
	}
	tests := []struct {
		name    string
		samples []int64
	}{
		{"one", []int64{72_200}},
		{"small exact", []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"uniform 1us..1ms", uniform},
		{"exponential tail", skewed},
		{"all equal", slices.Repeat([]int64{148_000}, 100)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h hist
			for _, v := range tc.samples {
				h.Record(v)
			}
			sorted := slices.Sorted(slices.Values(tc.samples))
			for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
				rank := int(float64(len(sorted))*q + 0.999999999)
				want := sorted[max(0, rank-1)]
				got := h.Quantile(q)
				if got < want || float64(got-want) > float64(want)/subCount {
					t.Errorf("q%v = %d, exact %d (allowed +%.2f%%)", q, got, want, 100.0/subCount)
				}
			}
			if h.Max() != sorted[len(sorted)-1] || h.Min() != sorted[0] || h.Count() != uint64(len(sorted)) {
				t.Errorf("max %d min %d count %d; want %d %d %d", h.Max(), h.Min(), h.Count(), sorted[len(sorted)-1], sorted[0], len(sorted))
			}
			var sum int64
			for _, v := range sorted {
				sum += v
			}
			if want := float64(sum) / float64(len(sorted)); h.Mean() != want {
				t.Errorf("mean %v, want %v", h.Mean(), want)
			}
			var merged hist
			h.AddTo(&merged)
			h.AddTo(&merged)
			if merged.Count() != 2*h.Count() || merged.Quantile(0.5) != h.Quantile(0.5) || merged.Max() != h.Max() || merged.Min() != h.Min() {
				t.Errorf("merged twice: count %d p50 %d max %d min %d", merged.Count(), merged.Quantile(0.5), merged.Max(), merged.Min())
			}
			merged.Reset()
			if merged.Count() != 0 || merged.Quantile(0.99) != 0 || merged.Max() != 0 {
				t.Errorf("after Reset: %d samples", merged.Count())
			}
		})
	}
}

// TestRecordAllocs: recording allocates nothing.
func TestRecordAllocs(t *testing.T) {
	var h hist
	if n := testing.AllocsPerRun(1000, func() { h.Record(12345) }); n != 0 {
		t.Errorf("Record allocates %v times", n)
	}
}
