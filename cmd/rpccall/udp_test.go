package main

import (
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/rpcproxy/rpcproxy/cmd/internal/memcache"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

var udpKey = []byte("0123456789abcdef0123456789abcdef-rpccall-udp")

// TestCallUDP: -network udp against the fake engine on tl/rpc/udp, with
// the key from a file and as hex; the envelope arrives as over TCP; a
// wrong key and a silent port time out (UDP has no handshake to refuse).
func TestCallUDP(t *testing.T) {
	defer goleak.VerifyNone(t)
	f := startFake(t, memcache.FakeConfig{BinlogPos: 42, UDPKey: udpKey})
	defer f.Close()
	failing := startFake(t, memcache.FakeConfig{ErrorEvery: 1, ErrorCode: rpc.CodeNoConnections, UDPKey: udpKey})
	defer failing.Close()
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, udpKey, 0o600); err != nil {
		t.Fatal(err)
	}
	keyHex := hex.EncodeToString(udpKey)
	otherKey := hex.EncodeToString([]byte("another key, 32 bytes or more, not the fake's"))
	sock, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	silent := sock.LocalAddr().String() // bound, never read: datagrams vanish
	defer sock.Close()

	ok, bad := f.Addr(), failing.Addr()
	tests := []struct {
		name      string
		args      []string
		code      int
		stdout    string
		stderrHas []string
	}{
		{name: "set with key file", args: []string{"-addr", ok, "-network", "udp", "-key-file", keyFile, "-compact",
			"memcache.set", `{"key":"a","flags":0,"delay":0,"value":"over udp"}`}, stdout: "true\n"},
		{name: "get with key hex, verbose", args: []string{"-addr", ok, "-network", "udp4", "-key-hex", keyHex, "-compact", "-v", "-actor", "7",
			"-extra", `{"return_binlog_pos":true}`, "-int-forward", "5", "memcache.get", `{"key":"a"}`},
			stdout:    `{"_":"memcache.strvalue","value":"over udp","flags":0}` + "\n",
			stderrHas: []string{`# result extra: {"flags":1,"binlog_pos":42}`, "# query_id: "}},
		{name: "repeat", args: []string{"-addr", ok, "-network", "udp", "-key-hex", keyHex, "-compact", "-n", "3", "memcache.get", `{"key":"b"}`},
			stdout: strings.Repeat(`{"_":"memcache.not_found"}`+"\n", 3), stderrHas: []string{"# 3 calls: 3 ok, 0 failed"}},
		{name: "rpc error", args: []string{"-addr", bad, "-network", "udp", "-key-hex", keyHex, "memcache.get", `{"key":"a"}`},
			code: exitRPC, stderrHas: []string{"rpccall: rpc error -3002 NO_CONNECTIONS: fake error for request 1\n"}},
		{name: "wrong key", args: []string{"-addr", ok, "-network", "udp", "-key-hex", otherKey, "-timeout", "100ms", "memcache.get", `{"key":"a"}`},
			code: exitTimeout, stderrHas: []string{"no answer from " + ok + " within 100ms"}},
		{name: "silent port", args: []string{"-addr", silent, "-network", "udp", "-key-hex", keyHex, "-timeout", "100ms", "memcache.get", `{"key":"a"}`},
			code: exitTimeout, stderrHas: []string{"no answer from " + silent}},
		{name: "short key", args: []string{"-addr", ok, "-network", "udp", "-key-hex", "00112233", "memcache.get", `{"key":"a"}`},
			code: exitUsage, stderrHas: []string{"the crypto key is 4 bytes, need >= 32"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-schema", schemaFile}, tc.args...)
			code, stdout, stderr := call(t, "", args...)
			if code != tc.code {
				t.Fatalf("exit code %d, want %d\nstderr: %s", code, tc.code, stderr)
			}
			if stdout != tc.stdout {
				t.Errorf("stdout:\n%q\nwant\n%q", stdout, tc.stdout)
			}
			for _, s := range tc.stderrHas {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
		})
	}
	if f.Requests() != 5 {
		t.Errorf("fake answered %d requests, want 5 (the wrong key never decrypts)", f.Requests())
	}
}

// TestEnvelopeUDP: actor, forward keys and timeout arrive over UDP as
// over TCP.
func TestEnvelopeUDP(t *testing.T) {
	defer goleak.VerifyNone(t)
	f := startFake(t, memcache.FakeConfig{UDPKey: udpKey})
	defer f.Close()
	code, _, stderr := call(t, "", "-addr", f.Addr(), "-network", "udp", "-key-hex", hex.EncodeToString(udpKey),
		"-schema", schemaFile, "-actor", "9", "-timeout", "2s", "-string-forward", "user7",
		"-extra", `{"requester_id":11}`, "memcache.get", `{"key":"a"}`)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got := f.Last()
	e := got.Extra
	if got.ActorID != 9 || e.CustomTimeoutMs != 2000 || string(e.StringForward) != "user7" || e.RequesterID != 11 {
		t.Errorf("engine saw actor %d timeout %d string_forward %q requester %d", got.ActorID, e.CustomTimeoutMs, e.StringForward, e.RequesterID)
	}
	if want := rpc.FlagCustomTimeoutMs | rpc.FlagStringForward | rpc.FlagRequesterID; got.Flags != want {
		t.Errorf("flags %#x, want %#x", got.Flags, want)
	}
}
