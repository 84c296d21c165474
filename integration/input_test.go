package integration

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// TestMalformedInput: raw garbage on a TCP connection to the proxy gets
// that connection closed, while a VK client on its own connection keeps
// getting answers throughout.
func TestMalformedInput(t *testing.T) {
	mc := startEngines(t, "memcache", 2)
	p := startProxy(t, newConfig(t, cluster{name: "mc", functions: []string{"memcache.*"}, engines: mc}))
	a := newApp(t)
	l := startLoad(t, a, p.addr, 2, 5000)
	l.await(t, 20)

	cases := []struct {
		name string
		data []byte
	}{
		{"random bytes", []byte("\x93\x11\xfe\x00\x42\x99\xaa\xbb\xcc\xdd\xee\xff\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c")},
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{"huge length", []byte("\xff\xff\xff\x7f\x00\x00\x00\x00\x00\x00\x00\x00")},
		{"bad crc handshake", []byte("\x20\x00\x00\x00\xff\xff\xff\xff\x7a\xcb\x56\x7a" + "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")},
		{"length only", []byte("\x08\x00\x00\x00")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := net.DialTimeout("tcp", p.addr, callWait)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if _, err := nc.Write(tc.data); err != nil {
				t.Fatal(err)
			}
			if tc.name == "length only" {
				// A truncated packet: the proxy waits for the rest until
				// its read timeout; closing our side must not hurt it.
				return
			}
			_ = nc.SetReadDeadline(time.Now().Add(callWait))
			_, err = io.Copy(io.Discard, nc) // nil at EOF
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("the proxy kept the connection open for %v after %q", callWait, tc.data)
			}
		})
	}
	l.await(t, 20)
	l.check(t)
	if !p.healthy() {
		t.Fatal("the proxy is not healthy after garbage input")
	}
}
