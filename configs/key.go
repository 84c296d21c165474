package configs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Limits of the crypto key in key_file.
const (
	MinKeyLen = 32   // VK's minimum, for TCP AES and UDP alike
	maxKeyLen = 4096 // a larger file is a mistake, not a key
)

// ReadKey reads the crypto key of key_file: the file's bytes as they are
// (a trailing newline is part of the key, as VK reads it), 32..4096 bytes,
// its first four bytes (the key id) not all zero.
func ReadKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("configs: key_file: %w (the key the engines use: %d..%d bytes, the first 4 not all zero; relative paths start at the config file's folder)", err, MinKeyLen, maxKeyLen)
	}
	if err != nil {
		return nil, fmt.Errorf("configs: key_file: %w", err)
	}
	defer f.Close()
	k, err := io.ReadAll(io.LimitReader(f, maxKeyLen+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("configs: key_file %s: %w", path, err)
	case len(k) < MinKeyLen:
		return nil, fmt.Errorf("configs: key_file %s: %d bytes, want at least %d", path, len(k), MinKeyLen)
	case len(k) > maxKeyLen:
		return nil, fmt.Errorf("configs: key_file %s: more than %d bytes; is it a key?", path, maxKeyLen)
	case binary.LittleEndian.Uint32(k) == 0:
		return nil, fmt.Errorf("configs: key_file %s: starts with 4 zero bytes (its key id)", path)
	}
	return k, nil
}
