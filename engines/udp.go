package engines

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc/server"
	"github.com/rpcproxy/rpcproxy/tl/rpc/udp"
)

// ListenUDP serves VK's UDP transport on addr (an IPv4 address; port 0
// picks one, or pass a TCP listener's address to share its port),
// encrypted with key (>= 32 bytes), in the background until Shutdown or
// Close; it returns the bound address. The same handler serves TCP and
// UDP requests. Peers idle for idleAfter are parked (udp.Config.IdleAfter;
// 0: never).
func (s *Server) ListenUDP(addr string, key []byte, idleAfter time.Duration) (net.Addr, error) {
	ua, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		return nil, fmt.Errorf("engines: listen udp: %w", err)
	}
	sock, err := net.ListenUDP("udp4", ua)
	if err != nil {
		return nil, fmt.Errorf("engines: listen udp: %w", err)
	}
	t, err := udp.New(sock, udp.Config{Keys: [][]byte{key}, Logger: s.log, IdleAfter: idleAfter})
	if err != nil {
		_ = sock.Close()
		return nil, fmt.Errorf("engines: listen udp: %w", err)
	}
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		if err := s.ServeUDP(t); err != nil {
			s.log.Error("engines: serve udp failed", "kind", s.kind, "addr", sock.LocalAddr().String(), "reason", err.Error())
		}
	}()
	return sock.LocalAddr(), nil
}

// ServeUDP serves t's connections until Shutdown or Close (then it
// returns nil); the server closes t.
func (s *Server) ServeUDP(t *udp.Transport) error {
	err := s.srv.ServeUDP(t)
	if errors.Is(err, server.ErrServerClosed) {
		return nil
	}
	return err
}
