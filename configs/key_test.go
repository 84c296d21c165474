package configs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeyAndUDP: key_file resolves against the config's directory, udp
// defaults to whether a key is set, and UDP (listening or to engines)
// without a key is refused.
func TestKeyAndUDP(t *testing.T) {
	const udpCluster = `
[[cluster]]
name = "a"
functions = ["a.*"]
transport = "udp"
shards = [{ replicas = ["127.0.0.1:7001"] }]
`
	cases := []struct {
		name        string
		src         string
		keyFile     string
		udp         bool
		transport   string
		expectedErr string
	}{
		{name: "no key", src: minimal, transport: "tcp"},
		{name: "key: udp on by default", src: "[proxy]\nkey_file = \"k\"\n" + minimal, keyFile: "/etc/rpcproxy/k", udp: true, transport: "tcp"},
		{name: "key, udp off", src: "[proxy]\nkey_file = \"/abs/k\"\nudp = false\n" + minimal, keyFile: "/abs/k", transport: "tcp"},
		{name: "udp engines", src: "[proxy]\nkey_file = \"k\"\n" + udpCluster, keyFile: "/etc/rpcproxy/k", udp: true, transport: "udp"},
		{name: "udp without key", src: "[proxy]\nudp = true\n" + minimal, expectedErr: "proxy.udp: true: UDP is always encrypted; set key_file"},
		{name: "udp engines without key", src: udpCluster, expectedErr: `cluster[0].transport: "udp": only "tcp" is supported without a key`},
		{name: "unknown transport", src: strings.Replace(udpCluster, `"udp"`, `"quic"`, 1), expectedErr: `cluster[0].transport: "quic": want "tcp" or "udp"`},
		{name: "empty key path", src: "[proxy]\nkey_file = \" \"\n" + minimal, expectedErr: "proxy.key_file: empty path"},
		{name: "one engine, two transports", src: "[proxy]\nkey_file = \"k\"\n" + udpCluster + strings.NewReplacer(`"a"`, `"b"`, `"a.*"`, `"b.*"`, `transport = "udp"`, "").Replace(udpCluster),
			expectedErr: `cluster[1].transport: "tcp": engine 127.0.0.1:7001 is reached over udp by cluster "a"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("k.toml", []byte(tc.src), "/etc/rpcproxy")
			if tc.expectedErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.expectedErr) {
					t.Fatalf("error %v, want %q", err, tc.expectedErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Proxy.KeyFile != tc.keyFile || cfg.Proxy.UDP != tc.udp || cfg.Clusters[0].Transport != tc.transport {
				t.Fatalf("key_file %q udp %v transport %q; want %q %v %q",
					cfg.Proxy.KeyFile, cfg.Proxy.UDP, cfg.Clusters[0].Transport, tc.keyFile, tc.udp, tc.transport)
			}
		})
	}
}

func TestReadKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := []byte("0123456789abcdef0123456789abcdef\n")
	cases := []struct {
		name        string
		path        string
		expectedErr string
	}{
		{"as is, newline included", write("good", good), ""},
		{"short", write("short", good[:31]), "31 bytes, want at least 32"},
		{"zero key id", write("zero", append([]byte{0, 0, 0, 0}, good...)), "4 zero bytes"},
		{"huge", write("huge", make([]byte, 5000)), "more than 4096 bytes"},
		{"missing", filepath.Join(dir, "none"), "no such file or directory (the key the engines use: 32..4096 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ReadKey(tc.path)
			if tc.expectedErr == "" {
				if err != nil || string(k) != string(good) {
					t.Fatalf("ReadKey = %q, %v", k, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.expectedErr) {
				t.Fatalf("error %v, want %q", err, tc.expectedErr)
			}
		})
	}
}
