package tljson

import (
	"encoding/base64"
	"math"
	"strconv"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// appendQuoted appends s as a JSON string. s must be valid UTF-8. Only '"',
// '\\' and control characters are escaped, so the text stays readable and
// is the same for every input (round trips compare JSON text).
func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendTLString appends the JSON form of a TL string: a JSON string when
// the bytes are valid UTF-8, else {"base64":"..."} (standard alphabet,
// padded) so that arbitrary bytes survive the round trip.
func appendTLString(dst []byte, b []byte) []byte {
	if utf8.Valid(b) {
		return appendQuoted(dst, string(b))
	}
	dst = append(dst, `{"base64":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, `"}`...)
}

// appendFloat appends a float or double (bits 32 or 64). Finite values are
// JSON numbers in the shortest form that parses back to the same bits
// (-0 is "-0"). JSON has no NaN or infinities, so those become strings:
// "Infinity", "-Infinity", "NaN" for the quiet NaN Go and C produce
// (0x7fc00000 for float, 0x7ff8000000000000 for double) and "NaN(0x...)" with
// the raw bits for any other NaN, so every bit pattern round-trips.
func appendFloat(dst []byte, f float64, raw uint64, bits int) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	case math.IsNaN(f):
		if raw == canonicalNaN(bits) {
			return append(dst, `"NaN"`...)
		}
		dst = append(dst, `"NaN(0x`...)
		dst = strconv.AppendUint(dst, raw, 16)
		return append(dst, `)"`...)
	}
	// Like encoding/json: plain notation in [1e-6, 1e21), else exponent.
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(dst, f, format, -1, bits)
}

// canonicalNaN is the bit pattern written for the JSON string "NaN".
func canonicalNaN(bits int) uint64 {
	if bits == 32 {
		return 0x7fc00000
	}
	return 0x7ff8000000000000
}
