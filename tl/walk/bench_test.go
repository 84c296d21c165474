package walk

import (
	"fmt"
	"testing"
)

func benchGetMulti(t testing.TB, w *Walker, n int) []byte {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("user:%d:profile", i*7919)
	}
	return enc(nil).tag(tagOf(t, w, "memcache.getMulti")).strs(keys...)
}

// vectorAnswer is a Vector memcache.Value answer of n strvalues.
func vectorAnswer(t testing.TB, w *Walker, n int) []byte {
	e := enc(nil).tag(0x1cb5c415).u32(uint32(n))
	sv := tagOf(t, w, "memcache.strvalue")
	for i := range n {
		if i%5 == 4 {
			e = e.tag(tagOf(t, w, "memcache.not_found"))
			continue
		}
		e = e.tag(sv).str(fmt.Sprintf("value-%d-with-some-payload", i)).i32(int32(i))
	}
	return e
}

func BenchmarkKey(b *testing.B) {
	w := memcacheWalker(b)
	keys, err := w.Keys(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("memcache.get", func(b *testing.B) {
		call := enc(nil).tag(tagOf(b, w, "memcache.get")).str("user:12345:profile")
		b.ReportAllocs()
		for b.Loop() {
			if _, err := keys.Key(call); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("getMulti-100", func(b *testing.B) {
		call := benchGetMulti(b, w, 100)
		b.SetBytes(int64(len(call)))
		b.ReportAllocs()
		for b.Loop() {
			it, err := keys.KeyElems(call)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for it.Next() {
				if len(it.Str()) > 0 {
					n++
				}
			}
			if n != 100 {
				b.Fatal(n)
			}
		}
	})
}

func BenchmarkSplit(b *testing.B) {
	w := memcacheWalker(b)
	call := benchGetMulti(b, w, 100)
	var shards [4][]int
	for i := range 100 {
		shards[i%4] = append(shards[i%4], i)
	}
	b.Run("100keys-4shards", func(b *testing.B) {
		dst := make([]byte, 0, 2*len(call))
		b.SetBytes(int64(len(call)))
		b.ReportAllocs()
		for b.Loop() {
			for _, keep := range shards {
				var err error
				if dst, err = w.Split(dst[:0], call, "keys", keep); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

func BenchmarkSplitBy(b *testing.B) {
	w := memcacheWalker(b)
	call := benchGetMulti(b, w, 100)
	shardOf := make([]int, 100)
	for i := range shardOf {
		shardOf[i] = i % 4
	}
	dsts := make([][]byte, 4)
	for i := range dsts {
		dsts[i] = make([]byte, 0, len(call))
	}
	b.Run("100keys-4shards", func(b *testing.B) {
		b.SetBytes(int64(len(call)))
		b.ReportAllocs()
		for b.Loop() {
			for i := range dsts {
				dsts[i] = dsts[i][:0]
			}
			if err := w.SplitBy(dsts, call, "keys", shardOf); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkCheck(b *testing.B) {
	w := memcacheWalker(b)
	b.Run("memcache.set", func(b *testing.B) {
		call := enc(nil).tag(tagOf(b, w, "memcache.set")).str("user:1").i32(0).i32(60).str("some value of moderate size")
		b.ReportAllocs()
		for b.Loop() {
			if err := w.Check(call); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("getMulti-100", func(b *testing.B) {
		call := benchGetMulti(b, w, 100)
		b.ReportAllocs()
		for b.Loop() {
			if err := w.Check(call); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSkip validates a realistic answer: 100 memcache.Value results
// of a getMulti (boxed unions with strings).
func BenchmarkSkip(b *testing.B) {
	w := memcacheWalker(b)
	call := benchGetMulti(b, w, 100)
	resp := vectorAnswer(b, w, 100)
	b.SetBytes(int64(len(resp)))
	b.ReportAllocs()
	for b.Loop() {
		if err := w.CheckResult(call, resp); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResultElems(b *testing.B) {
	w := memcacheWalker(b)
	for _, n := range []int{1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			call := benchGetMulti(b, w, n)
			resp := vectorAnswer(b, w, n)
			b.SetBytes(int64(len(resp)))
			b.ReportAllocs()
			for b.Loop() {
				it, err := w.ResultElems(call, resp)
				if err != nil {
					b.Fatal(err)
				}
				k := 0
				for it.Next() {
					k++
				}
				if k != n {
					b.Fatal(k)
				}
			}
		})
	}
}

func BenchmarkResultElemsInto(b *testing.B) {
	w := memcacheWalker(b)
	call := benchGetMulti(b, w, 1000)
	resp := vectorAnswer(b, w, 1000)
	var ends []int32
	b.SetBytes(int64(len(resp)))
	b.ReportAllocs()
	for b.Loop() {
		it, err := w.ResultElemsInto(call, resp, &ends)
		if err != nil {
			b.Fatal(err)
		}
		k := 0
		for it.Next() {
			k++
		}
		if k != 1000 {
			b.Fatal(k)
		}
	}
}
