package netflags

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rpcproxy/rpcproxy/tl/rpc/client"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// maxKeyFile bounds what -key-file reads: keys are short, and a typo that
// names a huge file should not be read whole.
const maxKeyFile = 4096

// Flags are the parsed transport flags.
type Flags struct {
	Network string
	KeyFile string
	KeyHex  string
}

// Register defines -network, -key-file and -key-hex on fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Network, "network", "tcp", "transport `NAME`: tcp or udp (VK's UDP transport; needs -key-file or -key-hex)")
	fs.StringVar(&f.KeyFile, "key-file", "", "crypto key read from `FILE`, its bytes as is (>= 32 bytes; required for udp, enables AES for tcp)")
	fs.StringVar(&f.KeyHex, "key-hex", "", "crypto key as `HEX` (>= 32 bytes once decoded); the alternative to -key-file")
}

// Usage is the -h paragraph about the transport flags; prog names the
// command in its examples.
func Usage(prog, example string) string {
	return `transport: -network tcp (default) or udp. UDP is VK's UDP transport
(wire.md §5), always encrypted: it needs the peer's crypto key, >= 32 bytes,
from -key-file FILE (the file's bytes as is, a trailing newline included) or
-key-hex HEX. For tcp a key is optional and enables AES (VK peers skip it
between loopback addresses). Over UDP there is no handshake: an absent peer
shows as a timeout, not as a refused connection.
  ` + prog + ` -network udp -key-file /etc/engine/key ` + example + `
`
}

// Apply validates the flags and sets o.Network and o.Packet.Key.
func (f *Flags) Apply(o *client.Options) error {
	udp := false
	switch f.Network {
	case "tcp", "tcp4", "tcp6":
	case "udp", "udp4":
		udp = true
	default:
		return fmt.Errorf("-network %q: want tcp or udp", f.Network)
	}
	key, err := f.key()
	if err != nil {
		return err
	}
	switch {
	case udp && key == nil:
		return fmt.Errorf("-network %s needs the peer's crypto key: pass -key-file FILE or -key-hex HEX (UDP is always encrypted)", f.Network)
	case key != nil && len(key) < packet.MinCryptoKeyLen:
		return fmt.Errorf("the crypto key is %d bytes, need >= %d", len(key), packet.MinCryptoKeyLen)
	}
	o.Network = f.Network
	o.Packet.Key = key
	return nil
}

// key reads the key from whichever flag was given (nil: none).
func (f *Flags) key() ([]byte, error) {
	switch {
	case f.KeyFile != "" && f.KeyHex != "":
		return nil, errors.New("-key-file and -key-hex both given; keep one")
	case f.KeyHex != "":
		k, err := hex.DecodeString(strings.TrimSpace(f.KeyHex))
		if err != nil {
			return nil, fmt.Errorf("-key-hex: %v", err)
		}
		return k, nil
	case f.KeyFile != "":
		fd, err := os.Open(f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("-key-file: %v", err)
		}
		defer fd.Close()
		k, err := io.ReadAll(io.LimitReader(fd, maxKeyFile+1))
		if err != nil {
			return nil, fmt.Errorf("-key-file %s: %v", f.KeyFile, err)
		}
		if len(k) > maxKeyFile {
			return nil, fmt.Errorf("-key-file %s: more than %d bytes; is it a key?", f.KeyFile, maxKeyFile)
		}
		return k, nil
	}
	return nil, nil
}
