package server

import (
	"testing"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// TestTryReplyResultFull: a client that does not read fills its
// connection's pending writes; TryReplyResult then reports false instead
// of waiting, a short error still fits above the limit, CloseConn drops
// the client, and the remaining replies write
// nothing, never block and release everything.
func TestTryReplyResultFull(t *testing.T) {
	leakCheck(t)
	const n = 2000
	held := make(chan *Request, n)
	connDone := make(chan struct{}, 1)
	ts := startServer(t, Config{
		Handler: HandlerFunc(func(r *Request) { held <- r }),
		Packet:  packet.Config{WriteBufferLimit: 64 << 10},
	}, func(s *Server) { s.onConnDone = signal(connDone) })
	c := dial(t, ts.addr, packet.Config{})
	for i := range n {
		c.send(&rpc.InvokeReq{QueryID: int64(i + 1), Body: fn(tagEcho)})
	}
	res := &rpc.ReqResult{Body: make([]byte, 16<<10)}
	full, closed := false, false
	for i := 0; i < n && !closed; i++ {
		r := recv(t, held, "request")
		switch {
		case full:
			closed = true
			r.CloseConn()
			r.ReplyErr(errFullForTest)
		case !r.TryReplyResult(res):
			// A short error still fits: the slack above the limit.
			full = true
			if !r.TryReplyErr(errFullForTest) {
				t.Fatal("TryReplyErr found no room right after the limit")
			}
		}
	}
	if closed {
		// Requests read before the close are still held: once the
		// connection's goroutine is gone they are all in held. Their
		// replies write nothing and must not block.
		recv(t, connDone, "connection end")
		for len(held) > 0 {
			(<-held).Reply(res.Body)
		}
	}
	if !full {
		t.Fatal("TryReplyResult never reported full for a client that does not read")
	}
	if err := c.waitClosed(); err == nil {
		t.Fatal("connection not closed")
	}
	checkDrained(t, ts.Server)
}

var errFullForTest = &rpc.Error{Code: rpc.CodeCongestionControlDiscard, Description: "test: client not reading"}

// TestTryReplyResultWrites: with room, TryReplyResult is a normal reply,
// errors included, and a second reply is ignored; the connection's value
// persists across requests.
func TestTryReplyResultWrites(t *testing.T) {
	leakCheck(t)
	ts := startServer(t, Config{Handler: HandlerFunc(func(r *Request) {
		n, _ := r.ConnValue().(int)
		r.SetConnValue(n + 1)
		var res rpc.ReqResult
		if len(r.Body) > 4 && n == 1 {
			res = rpc.ReqResult{ErrorForm: rpc.ErrorFormTopLevel, ErrorCode: -4000, ErrorText: []byte("boom")}
		} else {
			res = rpc.ReqResult{Body: []byte{1, 2, 3, 4}}
		}
		first := r.TryReplyResult(&res)
		second := r.TryReplyResult(&res) // a duplicate: ignored, and not "full"
		if !first || !second {
			panic("TryReplyResult full on an idle connection")
		}
	})})
	c := dial(t, ts.addr, packet.Config{})
	if got := c.call(&rpc.InvokeReq{QueryID: 7, Body: fn(tagEcho)}); got.IsError() || string(got.Body) != "\x01\x02\x03\x04" {
		t.Fatalf("result %+v", got)
	}
	if got := c.call(&rpc.InvokeReq{QueryID: 8, Body: fn(tagEcho, 1, 2, 3, 4)}); !got.IsError() || got.ErrorCode != -4000 || string(got.ErrorText) != "boom" {
		t.Fatalf("error %+v", got)
	}
	checkDrained(t, ts.Server)
}
