// Interop with VK's Go server over UDP (github.com/VKCOM/tl v1.5.7,
// ServeUDP). VK's UDP transport races internally, so these tests skip
// under -race; make test runs them without it (-run Interop).

package client

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	vk "github.com/VKCOM/tl/pkg/rpc"

	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

func skipVKUDPUnderRace(t *testing.T) {
	t.Helper()
	if raceEnabled {
		t.Skip("VK's UDP transport races internally; run without -race (make test does)")
	}
}

// startVKUDP runs VK's server with the vkServer handler on a UDP socket
// on 127.0.0.1:0. close does not wait for ServeUDP (it never returns).
func startVKUDP(t *testing.T) (*vkServer, string) {
	t.Helper()
	sock, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &vkServer{seen: make(chan seen, 16), slow: make(chan struct{}, 64), release: make(chan struct{})}
	s.srv = vk.NewServer(
		vk.ServerWithCryptoKeys([]string{vkKey}),
		vk.ServerWithLogf(func(string, ...any) {}),
		vk.ServerWithMaxWorkers(64),
		vk.ServerWithHandler(s.handle))
	go func() { _ = s.srv.ServeUDP(sock) }()
	return s, sock.LocalAddr().String()
}

// TestInteropVKServerUDP: our client over our UDP transport against VK's
// server over VK's: the envelope (actor, extra, result extra), small and
// chunked bodies, error answers, engine.pid answered by VK itself, and
// 200 concurrent calls.
func TestInteropVKServerUDP(t *testing.T) {
	skipVKUDPUnderRace(t)
	defer verifyNoLeaks(t) // ignores VK's UDP goroutines, which never exit
	srv, addr := startVKUDP(t)
	defer func() { _ = srv.srv.Close() }()
	cl := newClient(t, addr, Options{Network: "udp", Packet: packet.Config{Key: []byte(vkKey)}})
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()

	t.Run("envelope", func(t *testing.T) { checkVKEnvelope(t, ctx, cl, srv, nil) }) // version and encryption are TCP-only notions
	for _, tc := range []struct {
		name    string
		payload []byte
	}{
		{"small", []byte("hello")},
		{"100KB", bytes.Repeat([]byte("0123456789"), 10_000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := &Request{Body: tagged(tagEcho, tc.payload)}
			var resp Response
			if err := cl.Do(ctx, req, &resp); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(resp.Body, req.Body) {
				t.Fatalf("echo: %d bytes back, want %d", len(resp.Body), len(req.Body))
			}
		})
	}
	t.Run("error", func(t *testing.T) { checkVKError(t, ctx, cl) })
	t.Run("cancel", func(t *testing.T) {
		// VK's server must take our rpcCancelReq (tag and query id) for
		// what it is: the connection goes on working.
		h := make(chanHandler, 1)
		qid, err := cl.Go(&Request{Body: tagged(tagSlow, nil)}, time.Now().Add(wait), h, 1)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-srv.slow:
		case <-time.After(wait):
			t.Fatal("the slow request did not reach VK's handler")
		}
		if !cl.Cancel(qid) {
			t.Fatal("Cancel: not pending")
		}
		if r := recvResult(t, h); !errors.Is(r.err, ErrCanceled) {
			t.Fatalf("err %v, want ErrCanceled", r.err)
		}
		close(srv.release)
		if err := cl.Do(ctx, &Request{Body: tagged(tagEcho, []byte("after cancel"))}, nil); err != nil {
			t.Fatalf("after cancel: %v", err)
		}
	})
	t.Run("engine.pid", func(t *testing.T) {
		var resp Response
		if err := cl.Do(ctx, &Request{Body: tagged(0x559d6e36, nil)}, &resp); err != nil {
			t.Fatal(err)
		}
		if len(resp.Body) != 16 || resp.Body[0] != 0xcf || resp.Body[1] != 0x9c {
			t.Fatalf("engine.pid answer % x, want net.pid", resp.Body)
		}
	})
	t.Run("200 concurrent", func(t *testing.T) { checkVKConcurrent(t, cl, 200) })
	if st := cl.Stats(); st.Failed != 0 || st.Connects != 1 {
		t.Fatalf("stats %+v", st)
	}
}
