package sharding

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

var benchShardCounts = []int{1, 4, 64, 1024}

// benchKeys are typical memcache-style keys, cycled so the ring search is
// not always the same path.
func benchKeys() [][]byte {
	keys := make([][]byte, 1024)
	for i := range keys {
		keys[i] = []byte("user:" + strconv.Itoa(i*7919) + ":profile")
	}
	return keys
}

func BenchmarkPick(b *testing.B) {
	keys := benchKeys()
	for _, n := range benchShardCounts {
		for _, s := range allSpecs(n) {
			b.Run(fmt.Sprintf("%s/shards=%d", specName(s), n), func(b *testing.B) {
				p := mustPicker(b, s)
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					_, _ = p.Pick(keys[i&1023])
					i++
				}
			})
		}
	}
}

func BenchmarkPickInt(b *testing.B) {
	for _, n := range benchShardCounts {
		for _, s := range allSpecs(n) {
			b.Run(fmt.Sprintf("%s/shards=%d", specName(s), n), func(b *testing.B) {
				p := mustPicker(b, s)
				b.ReportAllocs()
				k := int64(1234567)
				for b.Loop() {
					_ = p.PickInt(k)
					k += 7919
				}
			})
		}
	}
}

func BenchmarkBalancerPick(b *testing.B) {
	for _, p := range Policies() {
		for _, n := range []int{2, 8} {
			b.Run(fmt.Sprintf("%s/replicas=%d", p, n), func(b *testing.B) {
				bal, err := NewBalancer(p, make([]int, n), BalancerOptions{})
				if err != nil {
					b.Fatal(err)
				}
				for i := range n {
					bal.Start(i)
					bal.Finish(i, time.Duration(i+1)*time.Millisecond, false)
				}
				b.ReportAllocs()
				for b.Loop() {
					_, _ = bal.Pick()
				}
			})
		}
	}
}

func BenchmarkBalancerRoundTrip(b *testing.B) {
	for _, p := range Policies() {
		b.Run(string(p), func(b *testing.B) {
			bal, err := NewBalancer(p, make([]int, 4), BalancerOptions{})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r, _ := bal.Pick()
					bal.Start(r)
					bal.Finish(r, time.Millisecond, false)
				}
			})
		})
	}
}

func BenchmarkNewPicker(b *testing.B) {
	for _, m := range []Mode{ModeKetama, ModeBounded} {
		b.Run(fmt.Sprintf("%s/shards=64", m), func(b *testing.B) {
			s := Spec{Mode: m, Shards: names(64)}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := NewPicker(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
