package memcache

import (
	"context"
	"strconv"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl/rpc/client"
)

// BenchmarkGetHit: the handler path of a get hit (decode, lookup, encode
// into a reused buffer). Must report 0 allocs/op.
func BenchmarkGetHit(b *testing.B) {
	s, _ := newStore(b, Config{})
	if _, e := call(b, s, set("user:42", 1, 0, "a value of some thirty bytes..")); e != nil {
		b.Fatal(e)
	}
	f := s.Funcs()[0].Call
	args := get("user:42")[4:]
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		out, err := f(args, dst[:0])
		if err != nil || len(out) == 0 {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetHitParallel: get hits on many keys from all cores, which
// meet only in their shard's read lock.
func BenchmarkGetHitParallel(b *testing.B) {
	s, _ := newStore(b, Config{})
	const keys = 1024
	reqs := make([][]byte, keys)
	for i := range keys {
		k := "user:" + strconv.Itoa(i)
		if _, e := call(b, s, set(k, 0, 0, "value")); e != nil {
			b.Fatal(e)
		}
		reqs[i] = get(k)[4:]
	}
	f := s.Funcs()[0].Call
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		dst := make([]byte, 0, 64)
		i := 0
		for pb.Next() {
			if _, err := f(reqs[i%keys], dst[:0]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkSet: the handler path of a set overwriting a key (the value
// buffer is reused, so this allocates nothing either).
func BenchmarkSet(b *testing.B) {
	s, _ := newStore(b, Config{})
	f := s.Funcs()[1].Call
	args := set("user:42", 1, 0, "a value of some thirty bytes..")[4:]
	dst := make([]byte, 0, 16)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f(args, dst[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoopbackGet: a get hit over 127.0.0.1 with tl/rpc/client, one
// call at a time (kernel and framing cost, not the store).
func BenchmarkLoopbackGet(b *testing.B) {
	addr, _ := startEngine(b)
	cl, err := client.New(addr, client.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	if err := cl.Do(ctx, &client.Request{Body: set("user:42", 0, 0, "value")}, nil); err != nil {
		b.Fatal(err)
	}
	req := &client.Request{Body: get("user:42")}
	var resp client.Response
	b.ReportAllocs()
	for b.Loop() {
		if err := cl.Do(ctx, req, &resp); err != nil {
			b.Fatal(err)
		}
	}
}
