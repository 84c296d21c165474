package route

import (
	"testing"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// BenchmarkRoute is the routing half of the request path: cluster lookup,
// key extraction and shard choice, plus the envelope the engine gets.
func BenchmarkRoute(b *testing.B) {
	tab := buildTable(b)
	tests := []struct {
		name  string
		body  []byte
		extra rpc.InvokeReqExtra
	}{
		{"memcache.get", tl.AppendString(tl.AppendUint32(nil, tab.schema.Function("memcache.get").Tag), "photo100_500"), rpc.InvokeReqExtra{}},
		{"string_forward_keys", tl.AppendString(tl.AppendUint32(nil, tab.schema.Function("memcache.get").Tag), "x"),
			rpc.InvokeReqExtra{Flags: rpc.FlagStringForwardKeys, StringForwardKeys: rpc.MakeStringVector("a1", "b2")}},
	}
	for _, tc := range tests {
		b.Run(tc.name, func(b *testing.B) {
			hdr := make([]byte, 0, 128)
			var req rpc.InvokeReq
			b.ReportAllocs()
			for b.Loop() {
				req = rpc.InvokeReq{QueryID: 1, Extra: tc.extra, Body: tc.body}
				c, err := tab.Lookup(mainAddr, &req)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := tab.Shard(c, &req); err != nil {
					b.Fatal(err)
				}
				req.Extra.SetCustomTimeoutMs(100)
				hdr = rpc.AppendInvokeReqHeader(hdr[:0], &req)
			}
		})
	}
}
