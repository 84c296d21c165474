package walk

import (
	"errors"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl"
)

func TestHostile(t *testing.T) {
	eng := engineWalker(t)
	w := srcWalker(t, diagonalSrc)
	send := tagOf(t, eng, "engine.sendResponseTo")
	deep := enc(nil).tag(tagOf(t, eng, "engine.nop"))
	for range 100 {
		deep = append(enc(nil).tag(send).i32(1).i32(2).i32(3), deep...)
	}
	tag := func(n string) enc { return enc(nil).tag(tagOf(t, w, n)) }
	tests := []struct {
		name string
		w    *Walker
		call []byte
		err  error
	}{
		{"nested !X", eng, deep, ErrDepth},
		{"zero-size elements", w, tag("test.trues").u32(10).i32(1), nil},
		{"zero-size count over limit", w, tag("test.trues").u32(1 << 20).i32(1), tl.ErrLimit},
		{"nested zero-size", w, tag("test.nested").u32(3).u32(1 << 16).u32(1 << 16).u32(1 << 16), nil},
		{"string count huge", w, tag("memcache.getMulti").u32(0xffffffff).str("a"), tl.ErrTruncated},
		{"array count huge", w, tag("test.multi").u32(0xffffffff).i32(1), tl.ErrTruncated},
		{"elements count huge", w, tag("test.nested").u32(0xffffffff).u32(0), tl.ErrTruncated},
		{"empty", w, nil, tl.ErrTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.w.Check(tc.call); !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
		})
	}
}

// TestConcurrent runs walks of different shapes from several goroutines
// on one Walker; -race checks the pooled states are never shared.
func TestConcurrent(t *testing.T) {
	w := srcWalker(t, diagonalSrc)
	keys, _ := w.Keys(nil)
	multi := enc(nil).tag(tagOf(t, w, "memcache.getMulti")).strs("a", "b", "c", "d")
	points := enc(nil).tag(tagOf(t, w, "test.points")).u32(1).u32(2).i64(1).i64(2)
	done := make(chan error, 4)
	for g := range 4 {
		go func() {
			var err error
			for i := 0; i < 200 && err == nil; i++ {
				var it Elems
				if it, err = keys.KeyElems(multi); err == nil {
					n := 0
					for it.Next() {
						n++
					}
					if n != 4 {
						err = errors.New("wrong element count")
					}
				}
				if err == nil {
					_, err = w.Split(nil, points, "ids", []int{g % 2})
				}
			}
			done <- err
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
