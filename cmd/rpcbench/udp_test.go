package main

import (
	"context"
	"encoding/hex"
	"net"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/rpcproxy/rpcproxy/cmd/internal/memcache"
)

var udpKey = []byte("0123456789abcdef0123456789abcdef-rpcbench-udp")

// TestRunUDP: bounded runs over UDP against the fake engine on
// tl/rpc/udp; every request is accounted for exactly once, the report
// names the network, and UDP without a key is a usage error.
func TestRunUDP(t *testing.T) {
	defer goleak.VerifyNone(t)
	f := startFake(t, memcache.FakeConfig{UDPKey: udpKey})
	defer f.Close()
	keyHex := hex.EncodeToString(udpKey)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"async prefill", []string{"-c", "3", "-d", "8", "-prefill", "-keys", "60", "-mix", "get=6,set=3,mget=1", "-mget-keys", "4"}},
		{"batch", []string{"-c", "2", "-d", "16", "-batch", "-mix", "get=1"}},
		{"sync", []string{"-c", "2", "-d", "2", "-driver", "sync"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 400
			args := append([]string{"-addr", f.Addr(), "-network", "udp", "-key-hex", keyHex, "-n", "400",
				"-warmup", "0", "-duration", "20s", "-quiet", "-json", "-seed", "3"}, tc.args...)
			code, stdout, stderr := runBench(t, context.Background(), args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			r := decodeReport(t, stdout)
			if r.Requests != n || r.OK != n || r.Errors != 0 || r.LatencyUs.Samples != n {
				t.Errorf("requests %d ok %d errors %d samples %d; want %d, all ok", r.Requests, r.OK, r.Errors, r.LatencyUs.Samples, n)
			}
			if r.Ops.Get.OK+r.Ops.Set.OK+r.Ops.Mget.OK != n || r.Params.Network != "udp" {
				t.Errorf("ops %+v, network %q", r.Ops, r.Params.Network)
			}
			if r.Prefill != nil && (r.Prefill.Keys != 60 || r.Ops.Get.Misses != 0) {
				t.Errorf("prefill %+v, gets %+v: want 60 keys, no misses", r.Prefill, r.Ops.Get)
			}
		})
	}
	code, stdout, _ := runBench(t, context.Background(), "-addr", f.Addr(), "-network", "udp", "-key-hex", keyHex, "-n", "10", "-quiet")
	if code != exitOK || !strings.HasPrefix(stdout, "rpcbench "+f.Addr()+" (udp)  c=1") {
		t.Errorf("text report: exit %d\n%s", code, stdout)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-network", "udp"}, "-network udp needs the peer's crypto key"},
		{[]string{"-network", "udp", "-key-hex", "0011"}, "the crypto key is 2 bytes"},
		{[]string{"-network", "quic"}, `-network "quic": want tcp or udp`},
	} {
		code, stdout, stderr := runBench(t, context.Background(), append([]string{"-addr", f.Addr(), "-quiet"}, tc.args...)...)
		if code != exitUsage || stdout != "" || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit %d and %q", tc.args, code, stdout, stderr, exitUsage, tc.want)
		}
	}
	sock, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	silent := sock.LocalAddr().String() // bound, never read: no handshake to refuse, the probe times out
	code, stdout, stderr := runBench(t, context.Background(), "-addr", silent, "-network", "udp", "-key-hex", keyHex, "-timeout", "100ms", "-quiet")
	if code != exitConn || stdout != "" || !strings.Contains(stderr, "speaking TL RPC over UDP, with this key?") {
		t.Errorf("silent UDP port: exit %d, stdout %q, stderr %q; want exit %d", code, stdout, stderr, exitConn)
	}
	code, stdout, _ = runBench(t, context.Background(), "-h")
	if code != exitOK || !strings.Contains(stdout, "rpcbench -network udp -key-file") || !strings.Contains(stdout, "-key-hex HEX") {
		t.Errorf("-h lacks the UDP example: exit %d\n%s", code, stdout)
	}
}
