package netflags

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl/rpc/client"
)

func TestApply(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef\n") // 33 bytes: the newline is part of it
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	shortFile := filepath.Join(dir, "short")
	hugeFile := filepath.Join(dir, "huge")
	for name, b := range map[string][]byte{keyFile: key, shortFile: []byte("short"), hugeFile: bytes.Repeat([]byte("k"), maxKeyFile+1)} {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	hexKey := "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	tests := []struct {
		name        string
		args        []string
		wantNetwork string
		wantKey     []byte
		wantErr     string
	}{
		{name: "default tcp", wantNetwork: "tcp"},
		{name: "tcp with key", args: []string{"-key-file", keyFile}, wantNetwork: "tcp", wantKey: key},
		{name: "udp key file", args: []string{"-network", "udp", "-key-file", keyFile}, wantNetwork: "udp", wantKey: key},
		{name: "udp4 key hex", args: []string{"-network", "udp4", "-key-hex", hexKey}, wantNetwork: "udp4",
			wantKey: []byte("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f")},
		{name: "udp without key", args: []string{"-network", "udp"}, wantErr: "-network udp needs the peer's crypto key"},
		{name: "unknown network", args: []string{"-network", "sctp"}, wantErr: `-network "sctp": want tcp or udp`},
		{name: "both keys", args: []string{"-key-file", keyFile, "-key-hex", hexKey}, wantErr: "keep one"},
		{name: "bad hex", args: []string{"-key-hex", "zz"}, wantErr: "-key-hex: encoding/hex"},
		{name: "short hex", args: []string{"-network", "udp", "-key-hex", "0011"}, wantErr: "the crypto key is 2 bytes, need >= 32"},
		{name: "short file for tcp", args: []string{"-key-file", shortFile}, wantErr: "the crypto key is 5 bytes"},
		{name: "missing file", args: []string{"-key-file", filepath.Join(dir, "nope")}, wantErr: "-key-file: open"},
		{name: "huge file", args: []string{"-key-file", hugeFile}, wantErr: "is it a key?"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var f Flags
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			f.Register(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			var o client.Options
			err := f.Apply(&o)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				if o.Packet.Key != nil || o.Network != "" {
					t.Fatalf("a failed Apply set %q and a key", o.Network)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.Network != tc.wantNetwork || !bytes.Equal(o.Packet.Key, tc.wantKey) {
				t.Fatalf("network %q key %q, want %q %q", o.Network, o.Packet.Key, tc.wantNetwork, tc.wantKey)
			}
			cl, err := client.New("127.0.0.1:1", o)
			if err != nil {
				t.Fatalf("client.New refuses what Apply accepted: %v", err)
			}
			cl.Close()
		})
	}
}

func TestUsage(t *testing.T) {
	u := Usage("rpccall", "memcache.get '{}'")
	for _, s := range []string{"-network tcp", "udp", "-key-file", "-key-hex", ">= 32 bytes", "rpccall -network udp -key-file"} {
		if !strings.Contains(u, s) {
			t.Errorf("usage lacks %q:\n%s", s, u)
		}
	}
}
