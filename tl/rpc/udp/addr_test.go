package udp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
)

func TestResolveAddr(t *testing.T) {
	tests := []struct {
		name, addr string
		want       string
		err        error // nil: no error expected; errAny: any error
	}{
		{"literal", "127.0.0.1:9300", "127.0.0.1:9300", nil},
		{"mapped literal", "[::ffff:127.0.0.1]:9300", "127.0.0.1:9300", nil},
		{"ipv6 refused", "[::1]:9300", "", ErrAddress},
		{"localhost", "localhost:9300", "127.0.0.1:9300", nil},
		{"no port", "127.0.0.1", "", errAny},
		{"bad port", "localhost:99999", "", errAny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResolveAddr(context.Background(), tc.addr)
			switch {
			case tc.err == nil && err != nil:
				t.Fatalf("ResolveAddr(%q): %v", tc.addr, err)
			case tc.err == errAny && err == nil, tc.err != nil && tc.err != errAny && !errors.Is(err, tc.err):
				t.Fatalf("ResolveAddr(%q) = %v, %v; want error %v", tc.addr, got, err, tc.err)
			case tc.err == nil && got.String() != tc.want:
				t.Fatalf("ResolveAddr(%q) = %v, want %s", tc.addr, got, tc.want)
			}
		})
	}
}

var errAny = errors.New("any error")

// TestListenForLoopback: a socket for a loopback peer is bound to
// 127.0.0.1, the address VK peers will see in our pid.
func TestListenForLoopback(t *testing.T) {
	c, err := ListenFor(netip.MustParseAddrPort("127.0.0.1:9300"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	la := c.LocalAddr().(*net.UDPAddr).AddrPort()
	if la.Addr() != netip.MustParseAddr("127.0.0.1") || la.Port() == 0 {
		t.Fatalf("bound to %v, want 127.0.0.1 and an ephemeral port", la)
	}
}
