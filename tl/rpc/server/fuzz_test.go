package server

import (
	"net"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// FuzzServeConn feeds bytes to a live server connection after a valid
// handshake: raw, or framed as a valid packet of type typ (so envelopes,
// cancels and fins are reached past the CRC). The server must survive,
// close or keep the connection, and keep answering another client.
func FuzzServeConn(f *testing.F) {
	f.Add([]byte("\x01\x00\x00\x00\x00\x00\x00\x00\x0d\xf0\xad\x0b"), true, rpc.TypeInvokeReq)
	f.Add([]byte("\x01\x00\x00\x00\x00\x00\x00\x00\xbd\xaa\x68\x75"), true, rpc.TypeInvokeReq)
	f.Add([]byte("\x07\x00\x00\x00\x00\x00\x00\x00"), true, rpc.TypeCancelReq)
	f.Add([]byte{}, true, rpc.TypeClientWantsFin)
	f.Add([]byte("garbage garbage garbage"), false, uint32(0))
	f.Add([]byte("\x10\x00\x00\x00\x00\x00\x00\x00\x3d\xdf\x74\x23\x00\x00\x00\x00"), false, uint32(0))

	leakCheck(f)
	// fuzzHandler is a Canceler, so the pending-query table is fuzzed too.
	ts := startServer(f, Config{Handler: fuzzHandler{}, Engine: EngineConfig{Enabled: true, Version: "fuzz"},
		Packet: packet.Config{PacketTimeout: 2 * time.Second}})
	good := dial(f, ts.addr, packet.Config{})
	var qid int64
	f.Fuzz(func(t *testing.T, data []byte, framed bool, typ uint32) {
		nc, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		pc, err := packet.ClientHandshake(nc, packet.Config{PacketTimeout: wait})
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		out := data
		if framed {
			out = frame(0, typ, data)
		}
		// A trailer of zeros is a bad length after any complete packet, so
		// the server normally closes first: the TIME_WAIT stays on its
		// side and thousands of runs do not exhaust our ephemeral ports.
		if _, err := nc.Write(append(out, make([]byte, 16)...)); err != nil {
			t.Fatal(err)
		}
		if !readToEOF(nc, 50*time.Millisecond) {
			// A partial packet swallowed the trailer: hang up ourselves.
			_ = nc.(*net.TCPConn).CloseWrite()
			if !readToEOF(nc, wait) {
				t.Fatal("server kept a half-closed connection open")
			}
		}
		qid++
		g := *good
		g.t = t
		if res := g.call(&rpc.InvokeReq{QueryID: qid, Body: fn(tagEcho)}); res.IsError() {
			t.Fatalf("good client: %d %s", res.ErrorCode, res.ErrorText)
		}
	})
}

type fuzzHandler struct{}

func (fuzzHandler) ServeRPC(r *Request)       { r.Reply(r.Body) }
func (fuzzHandler) CancelRPC(any, int64) bool { return false }

// readToEOF reads until the peer closes (true) or d passes (false).
func readToEOF(nc net.Conn, d time.Duration) bool {
	_ = nc.SetReadDeadline(time.Now().Add(d))
	var buf [4096]byte
	for {
		if _, err := nc.Read(buf[:]); err != nil {
			ne, ok := err.(net.Error)
			return !ok || !ne.Timeout()
		}
	}
}
