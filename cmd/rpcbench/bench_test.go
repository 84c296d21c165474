package main

import (
	"context"
	"encoding/json"
	"io"
	"strconv"
	"testing"

	"github.com/rpcproxy/rpcproxy/cmd/internal/memcache"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/server"
)

// startTrivial serves precomputed answers (get: not_found, set: true,
// getMulti of up to 16 keys: that many not_found), the cheapest engine
// there is, so the load generator's own cost dominates.
func startTrivial(tb testing.TB) (addr string, stop func()) {
	miss := tl.AppendUint32(nil, memcache.TagNotFound)
	stored := tl.AppendBool(nil, true)
	var multi [17][]byte
	for n := range multi {
		multi[n] = tl.AppendUint32(tl.AppendUint32(nil, tl.TagVector), uint32(n))
		for range n {
			multi[n] = append(multi[n], miss...)
		}
	}
	return startEngine(tb, func(r *server.Request) {
		switch tag, _ := r.FunctionTag(); tag {
		case memcache.TagSet:
			r.Reply(stored)
		case memcache.TagGetMulti:
			n, _, err := tl.ReadUint32(r.Body[4:])
			if err != nil || n >= uint32(len(multi)) {
				r.ReplyError(rpc.CodeSyntax, "trivial engine: bad getMulti")
				return
			}
			r.Reply(multi[n])
		default:
			r.Reply(miss)
		}
	})
}

// BenchmarkDriver compares the async driver (completion callbacks on the
// client's reader goroutine) with the sync one (a goroutine per slot
// blocked in Do) against the trivial engine in this process. ops/s is the
// figure to compare; it includes the engine's cost on the same cores.
func BenchmarkDriver(b *testing.B) {
	addr, stop := startTrivial(b)
	defer stop()
	for _, driver := range []string{"async", "sync", "batch"} {
		for _, cd := range [][2]int{{1, 1}, {1, 16}, {4, 16}} {
			name := driver + "/c=" + strconv.Itoa(cd[0]) + "/d=" + strconv.Itoa(cd[1])
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				var out jsonWriter
				args := []string{"-driver", driver}
				if driver == "batch" {
					args = []string{"-batch"}
				}
				code := run(context.Background(), append(args, "-addr", addr, "-n", strconv.Itoa(b.N),
					"-c", strconv.Itoa(cd[0]), "-d", strconv.Itoa(cd[1]), "-warmup", "0", "-duration", "1m",
					"-mix", "get=1", "-quiet", "-json"), &out, io.Discard)
				if code != exitOK {
					b.Fatalf("exit %d", code)
				}
				b.ReportMetric(out.r.OpsPerSec, "ops/s")
				b.ReportMetric(out.r.LatencyUs.P99, "p99-µs")
			})
		}
	}
}

// jsonWriter decodes the -json report written into it.
type jsonWriter struct{ r report }

func (w *jsonWriter) Write(p []byte) (int, error) { return len(p), json.Unmarshal(p, &w.r) }
