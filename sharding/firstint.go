package sharding

import (
	"fmt"
	"math"
)

// maxQuotedKey bounds how much of a bad key an error message quotes, so a
// hostile megabyte key cannot become a megabyte log line.
const maxQuotedKey = 64

// firstInt reads the first run of decimal digits in key as a uint64. Signs and
// any other bytes are skipped: "user_-42" reads 42, "photo100_500" reads 100.
func firstInt(key []byte) (uint64, error) {
	i := 0
	for i < len(key) && !isDigit(key[i]) {
		i++
	}
	if i == len(key) {
		return 0, fmt.Errorf("%w: key %q", ErrNoDigits, quoted(key))
	}
	var v uint64
	for ; i < len(key) && isDigit(key[i]); i++ {
		d := uint64(key[i] - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, fmt.Errorf("%w: key %q", ErrOverflow, quoted(key))
		}
		v = v*10 + d
	}
	return v, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// quoted copies at most maxQuotedKey bytes of key into a string for an error
// message. Copying (instead of handing fmt the slice) keeps key from escaping,
// so callers may pass keys on their stack without Pick allocating.
func quoted(key []byte) string {
	return string(key[:min(len(key), maxQuotedKey)])
}
