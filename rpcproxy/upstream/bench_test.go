package upstream

import (
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/rpcproxy/health"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// nopWriter is a connection that takes every packet and sends nothing.
type nopWriter struct{}

func (nopWriter) TryWritePacket(uint32, []byte, []byte) (bool, error) { return true, nil }
func (nopWriter) TryWritePacketIn(*packet.Batch, int, uint32, []byte, []byte) (bool, error) {
	return true, nil
}

// sinkCall counts answers; nothing else.
type sinkCall struct {
	qid     int64
	answers int
}

func (c *sinkCall) Sent(qid int64)                                       { c.qid = qid }
func (c *sinkCall) Answer(uint32, []byte, *rpc.ReqResult, *packet.Batch) { c.answers++ }
func (c *sinkCall) Fail(error)                                           {}

// BenchmarkSendDeliver is the engine side of one forwarded request without
// sockets: Send (query id, pending entry, the connection's TryWritePacket)
// and the answer's delivery (lookup, parse, health), against a connection
// that takes every packet.
func BenchmarkSendDeliver(b *testing.B) {
	p := &Pool{opts: Options{Now: time.Now}}
	e := &Engine{addr: "sink", pool: p, health: health.New(health.Settings{}, nil, nil),
		errs: newEngineErrors("sink"), links: map[*link]struct{}{}}
	e.cur = &link{e: e, w: nopWriter{}}
	hdr := make([]byte, 8, 64)
	body := tl.AppendString(tl.AppendUint32(nil, 0xd33b13ae), "photo100_500")
	answer := make([]byte, 8, 64)
	answer = append(answer, body...)
	var res rpc.ReqResult
	c := &sinkCall{}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Send(c, hdr, body, now, now.Add(time.Second)); err != nil {
			b.Fatal(err)
		}
		tl.AppendInt64(answer[:0], c.qid)
		e.deliver(rpc.TypeReqResult, answer, &res)
	}
	if c.answers != b.N {
		b.Fatalf("%d answers for %d requests", c.answers, b.N)
	}
}
