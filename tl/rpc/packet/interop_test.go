// Interop with VK's own Go implementation (github.com/VKCOM/tl/pkg/rpc,
// imported by tests only): our client against VK's server and VK's client
// against our server, plain and AES, protocol versions 0-2.

package packet

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"testing"
	"time"

	vk "github.com/VKCOM/tl/pkg/rpc"
)

const (
	tagInvokeReq = 0x2374df3d
	tagReqResult = 0x63aeda4e
	tagEnginePID = 0x559d6e36
	tagNetPID    = 0x46409ccf // bytes cf 9c 40 46
	tagEcho      = 0x0badf00d // an unknown function: VK's server hands it to our handler
)

type interopCase struct {
	name    string
	version Version
	key     bool
	force   bool
}

func interopCases() []interopCase {
	var cs []interopCase
	for _, v := range []Version{Version0, Version1, Version2} {
		cs = append(cs,
			interopCase{fmt.Sprintf("plain/v%d", v.Wire()), v, false, false},
			interopCase{fmt.Sprintf("key-loopback-plain/v%d", v.Wire()), v, true, false},
			interopCase{fmt.Sprintf("aes/v%d", v.Wire()), v, true, true},
		)
	}
	return cs
}

func invoke(qid uint64, fn uint32, payload []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, qid)
	b = binary.LittleEndian.AppendUint32(b, fn)
	return append(b, payload...)
}

// TestInteropOurClientVKServer: our ClientHandshake against VK's rpc.Server.
func TestInteropOurClientVKServer(t *testing.T) {
	defer verifyNoLeaks(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := vk.NewServer(
		vk.ServerWithCryptoKeys([]string{string(testKey)}),
		vk.ServerWithLogf(t.Logf),
		vk.ServerWithHandler(func(ctx context.Context, hctx *vk.HandlerContext) error {
			hctx.Response = append(hctx.Response, hctx.Request...)
			return nil
		}))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		srv.Close()
		<-served
	}()

	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	for _, tc := range interopCases() {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			cfg := Config{ProtocolVersion: tc.version, ForceEncryption: tc.force}
			if tc.key {
				cfg.Key = testKey
			}
			c, err := ClientHandshake(nc, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.Encrypted() != tc.force || c.ProtocolVersion() != tc.version.Wire() {
				t.Fatalf("encrypted %v version %d", c.Encrypted(), c.ProtocolVersion())
			}
			if c.PeerFlags()&FlagCRC32C == 0 || c.PeerPID().Port() == 0 {
				t.Fatalf("peer flags %#x pid %v", c.PeerFlags(), c.PeerPID())
			}
			// engine.pid, answered by VK's server itself.
			if err := c.WritePacket(tagInvokeReq, nil, invoke(7, tagEnginePID, nil)); err != nil {
				t.Fatal(err)
			}
			typ, body, err := c.ReadPacket()
			if err != nil {
				t.Fatal(err)
			}
			if typ != tagReqResult || len(body) != 8+4+12 || binary.LittleEndian.Uint64(body) != 7 ||
				binary.LittleEndian.Uint32(body[8:]) != tagNetPID {
				t.Fatalf("engine.pid answer %#x % x", typ, body)
			}
			if got := readPID(body[12:]); got != c.PeerPID() {
				t.Fatalf("engine.pid %v, handshake said %v", got, c.PeerPID())
			}
			// 1 MiB echo, head and body sent as two parts; version 0
			// needs a multiple of 4 and gets it.
			head := binary.LittleEndian.AppendUint64(nil, 8)
			head = binary.LittleEndian.AppendUint32(head, tagEcho)
			if err := c.WritePacket(tagInvokeReq, head, big); err != nil {
				t.Fatal(err)
			}
			typ, body, err = c.ReadPacket()
			if err != nil {
				t.Fatal(err)
			}
			if typ != tagReqResult || binary.LittleEndian.Uint64(body) != 8 || !bytes.Equal(body[12:], big) {
				t.Fatalf("echo answer %#x, %d bytes", typ, len(body))
			}
		})
	}
}

// TestInteropVKClientOurServer: VK's rpc.Client against our ServerHandshake.
func TestInteropVKClientOurServer(t *testing.T) {
	big := bytes.Repeat([]byte("fedcba9876543210"), 1<<16)
	for _, tc := range interopCases() {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			scfg := Config{ForceEncryption: tc.force, Keys: [][]byte{otherKey, testKey}}
			type srvInfo struct {
				encrypted bool
				version   uint32
				flags     uint32
				err       error
			}
			info := make(chan srvInfo, 1)
			go func() {
				nc, err := ln.Accept()
				if err != nil {
					info <- srvInfo{err: err}
					return
				}
				c, err := ServerHandshake(nc, scfg)
				if err != nil {
					info <- srvInfo{err: err}
					return
				}
				defer c.Close()
				info <- srvInfo{c.Encrypted(), c.ProtocolVersion(), c.PeerFlags(), nil}
				for {
					typ, body, err := c.ReadPacket()
					if err != nil {
						return
					}
					if typ != tagInvokeReq || len(body) < 8 {
						continue
					}
					// Answer with the request's payload (after the query
					// id and any headers VK put in front of our magic).
					i := bytes.Index(body[8:], binary.LittleEndian.AppendUint32(nil, tagEcho))
					if i < 0 {
						continue
					}
					if err := c.WritePacket(tagReqResult, body[:8], body[8+i:]); err != nil {
						return
					}
				}
			}()

			opts := []vk.ClientOptionsFunc{vk.ClientWithProtocolVersion(tc.version.Wire()),
				vk.ClientWithForceEncryption(tc.force), vk.ClientWithLogf(t.Logf)}
			if tc.key {
				opts = append(opts, vk.ClientWithCryptoKey(string(testKey)))
			}
			client := vk.NewClient(opts...)
			defer client.Close()
			for i, payload := range [][]byte{[]byte("tiny"), big} {
				req := client.GetRequest()
				req.Body = binary.LittleEndian.AppendUint32(req.Body, tagEcho)
				req.Body = append(req.Body, payload...)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				resp, err := client.Do(ctx, "tcp4", ln.Addr().String(), req)
				cancel()
				if err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
				if binary.LittleEndian.Uint32(resp.Body) != tagEcho || !bytes.Equal(resp.Body[4:], payload) {
					t.Fatalf("call %d: answer %d bytes", i, len(resp.Body))
				}
				client.PutResponse(resp)
			}
			select {
			case si := <-info:
				if si.err != nil {
					t.Fatal(si.err)
				}
				if si.encrypted != tc.force || si.version != tc.version.Wire() ||
					si.flags&(FlagCRC32C|FlagCancelReq) != FlagCRC32C|FlagCancelReq {
					t.Fatalf("server saw encrypted %v version %d flags %#x", si.encrypted, si.version, si.flags)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("server never finished the handshake")
			}
		})
	}
}

// TestInteropPingPong: our idle client pings VK's server and gets pongs;
// VK's idle client pings our server and gets pongs. Either side closing
// would fail the test.
func TestInteropPingPong(t *testing.T) {
	for _, aes := range []bool{false, true} {
		t.Run(fmt.Sprintf("our-pings/aes=%v", aes), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := vk.NewServer(vk.ServerWithCryptoKeys([]string{string(testKey)}), vk.ServerWithLogf(t.Logf))
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ln) }()
			defer func() {
				srv.Close()
				<-served
			}()
			nc, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			cw := &countingConn{Conn: nc, ch: make(chan struct{}, 1)}
			c, err := ClientHandshake(cw, Config{Key: testKey, ForceEncryption: aes, PacketTimeout: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			rc := readAsync(c)
			for range 5 {
				select {
				case <-cw.ch:
				case r := <-rc:
					t.Fatalf("connection ended: %v", r.err)
				case <-time.After(5 * time.Second):
					t.Fatal("no ping written")
				}
			}
			if err := c.Err(); err != nil {
				t.Fatal(err)
			}
		})
		t.Run(fmt.Sprintf("vk-pings/aes=%v", aes), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			pongs := make(chan struct{}, 1)
			srvDone := make(chan error, 1)
			go func() {
				nc, err := ln.Accept()
				if err != nil {
					srvDone <- err
					return
				}
				c, err := ServerHandshake(&countingConn{Conn: nc, ch: pongs}, Config{Key: testKey})
				if err != nil {
					srvDone <- err
					return
				}
				defer c.Close()
				for {
					typ, body, err := c.ReadPacket()
					if err != nil {
						srvDone <- err
						return
					}
					if typ == tagInvokeReq {
						_ = c.WritePacket(tagReqResult, body[:8], binary.LittleEndian.AppendUint32(nil, tagEcho))
					}
				}
			}()
			client := vk.NewClient(vk.ClientWithCryptoKey(string(testKey)), vk.ClientWithForceEncryption(aes),
				// VK re-arms deadlines only when they move by > 100 ms, so
				// it cannot run with shorter timeouts.
				vk.ClientWithPacketTimeout(300*time.Millisecond), vk.ClientWithLogf(t.Logf))
			defer client.Close()
			call := func() {
				t.Helper()
				req := client.GetRequest()
				req.Body = binary.LittleEndian.AppendUint32(req.Body, tagEcho)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				resp, err := client.Do(ctx, "tcp4", ln.Addr().String(), req)
				if err != nil {
					t.Fatal(err)
				}
				client.PutResponse(resp)
			}
			call()
			for range 3 { // writes after the call: pongs to VK's pings
				select {
				case <-pongs:
				case err := <-srvDone:
					t.Fatalf("server conn ended: %v", err)
				case <-time.After(5 * time.Second):
					t.Fatal("VK client never pinged")
				}
			}
			call() // same connection: our server accepts only one
		})
	}
}
