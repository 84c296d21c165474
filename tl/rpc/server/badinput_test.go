package server

import (
	"encoding/binary"
	"hash/crc32"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// frame builds a post-handshake packet as a peer with CRC32C would.
func frame(seq, typ uint32, body []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(body)+16))
	b = binary.LittleEndian.AppendUint32(b, seq)
	b = binary.LittleEndian.AppendUint32(b, typ)
	b = append(b, body...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}

// TestBadInput: each kind of bad input closes its own connection with a
// logged reason, counted in Counters.BadInput unless it is a close or a
// stall, while a good client on the same server keeps getting answers.
func TestBadInput(t *testing.T) {
	leakCheck(t)
	valid := frame(0, rpc.TypeInvokeReq, invokeBody(&rpc.InvokeReq{QueryID: 1, Body: fn(tagEcho)}))
	badCRC := append([]byte(nil), valid...)
	badCRC[len(badCRC)-1] ^= 0xff
	for _, tc := range []struct {
		name      string
		handshake bool   // complete the handshake before sending raw
		raw       []byte // sent as is
		hangup    bool   // close our side after sending
		reason    string // logged by the server
		bad       int64  // counted in BadInput
	}{
		{"garbage", true, []byte("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14"), false, "bad packet length", 1},
		{"wrong CRC", true, badCRC, false, "bad CRC", 1},
		{"wrong seq", true, frame(5, rpc.TypeInvokeReq, invokeBody(&rpc.InvokeReq{QueryID: 1, Body: fn(tagEcho)})), false, "bad sequence number", 1},
		{"oversized length", true, append(binary.LittleEndian.AppendUint32(nil, 32<<20), make([]byte, 8)...), false, "bad packet length", 1},
		{"undersized length", true, []byte{8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, false, "bad packet length", 1},
		{"no query id", true, frame(0, rpc.TypeInvokeReq, []byte{1, 2, 3, 4}), false, "request without query id", 1},
		{"truncated packet", true, valid[:len(valid)-3], true, "EOF", 0},
		{"stalled mid-packet", true, valid[:len(valid)-3], false, "stalled", 0},
		{"stalled mid-handshake", false, []byte{44, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff}, false, "handshake", 0},
		{"garbage handshake", false, make([]byte, 64), false, "handshake", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			connDone := make(chan struct{}, 4)
			ts := startServer(t, Config{Handler: echo, Packet: packet.Config{PacketTimeout: 300 * time.Millisecond}},
				func(s *Server) { s.onConnDone = signal(connDone) })
			good := dial(t, ts.addr, packet.Config{})
			var nc net.Conn
			if tc.handshake {
				nc = dial(t, ts.addr, packet.Config{}).nc
			} else {
				var err error
				if nc, err = net.Dial("tcp", ts.addr); err != nil {
					t.Fatal(err)
				}
				defer nc.Close()
			}
			if _, err := nc.Write(tc.raw); err != nil {
				t.Fatal(err)
			}
			if tc.hangup {
				_ = nc.(*net.TCPConn).CloseWrite()
			}
			closed := make(chan error, 1)
			go func() {
				_ = nc.SetReadDeadline(time.Now().Add(wait))
				buf := make([]byte, 4096)
				for {
					if _, err := nc.Read(buf); err != nil {
						closed <- err
						return
					}
				}
			}()
			// The good client keeps working while the bad one is handled.
			for i := int64(1); ; i++ {
				if res := good.call(&rpc.InvokeReq{QueryID: i, Body: fn(tagEcho)}); res.IsError() {
					t.Fatalf("good client: %d %s", res.ErrorCode, res.ErrorText)
				}
				select {
				case err := <-closed:
					if ne, ok := err.(net.Error); ok && ne.Timeout() {
						t.Fatal("bad connection not closed")
					}
					good.call(&rpc.InvokeReq{QueryID: -i, Body: fn(tagEcho)})
					recv(t, connDone, "the bad connection's goroutine to end")
					if log := ts.log.String(); !strings.Contains(log, tc.reason) {
						t.Fatalf("log lacks %q:\n%s", tc.reason, log)
					}
					if got := ts.Counters().BadInput; got != tc.bad {
						t.Fatalf("BadInput %d, want %d", got, tc.bad)
					}
					return
				default:
				}
				if i > 1e6 {
					t.Fatal("bad connection still open after 1e6 good calls")
				}
			}
		})
	}
}
