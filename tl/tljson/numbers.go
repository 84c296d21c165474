package tljson

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// numText returns the text of an integer given as a JSON number or, for
// 64-bit values that some JSON tools cannot hold exactly, a string.
func (en *encoder) numText(j *jvalue, what string) (string, error) {
	if j.kind == jNumber || j.kind == jString {
		return j.s, nil
	}
	return "", en.fail(ErrJSONType, "want %s, got %s", what, describe(j))
}

func (en *encoder) intErr(err error, s, what string) error {
	if errors.Is(err, strconv.ErrRange) {
		return en.fail(ErrRange, "%s does not fit %s", s, what)
	}
	return en.fail(ErrJSONType, "want %s, got %q", what, s)
}

func (en *encoder) uint32(j *jvalue) (uint32, error) {
	s, err := en.numText(j, "a # (uint32)")
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, en.intErr(err, s, "a # (uint32)")
	}
	return uint32(v), nil
}

func (en *encoder) int32(j *jvalue) (int32, error) {
	s, err := en.numText(j, "an int")
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, en.intErr(err, s, "an int")
	}
	return int32(v), nil
}

func (en *encoder) int64(j *jvalue) (int64, error) {
	s, err := en.numText(j, "a long")
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, en.intErr(err, s, "a long")
	}
	return v, nil
}

// float parses a float (bits 32) or double (bits 64) and returns its raw
// bits: a JSON number, or one of the strings appendFloat writes.
func (en *encoder) float(j *jvalue, bits int) (uint64, error) {
	what := "a double"
	if bits == 32 {
		what = "a float"
	}
	toBits := func(f float64) uint64 {
		if bits == 32 {
			return uint64(math.Float32bits(float32(f)))
		}
		return math.Float64bits(f)
	}
	switch j.kind {
	case jNumber:
		f, err := strconv.ParseFloat(j.s, bits)
		if err != nil {
			return 0, en.intErr(err, j.s, what)
		}
		return toBits(f), nil
	case jString:
		switch j.s {
		case "NaN":
			return canonicalNaN(bits), nil
		case "Infinity", "+Infinity":
			return toBits(math.Inf(1)), nil
		case "-Infinity":
			return toBits(math.Inf(-1)), nil
		}
		if h, ok := strings.CutPrefix(j.s, "NaN(0x"); ok {
			if h, ok = strings.CutSuffix(h, ")"); ok {
				v, err := strconv.ParseUint(h, 16, bits)
				if err == nil && (bits == 32 && math.IsNaN(float64(math.Float32frombits(uint32(v)))) ||
					bits == 64 && math.IsNaN(math.Float64frombits(v))) {
					return v, nil
				}
			}
		}
	}
	return 0, en.fail(ErrJSONType, `want %s (a number, "NaN", "Infinity", "-Infinity" or "NaN(0x<bits>)"), got %s`, what, describe(j))
}

// bytes returns a TL string's bytes: a JSON string, or {"base64":"..."}.
func (en *encoder) bytes(j *jvalue) ([]byte, error) {
	switch {
	case j.kind == jString:
		return []byte(j.s), nil
	case j.kind == jObject && len(j.obj) == 1 && j.obj[0].key == "base64" && j.obj[0].val.kind == jString:
		b, err := base64.StdEncoding.DecodeString(j.obj[0].val.s)
		if err != nil {
			return nil, en.fail(ErrJSONType, "bad base64: %v", err)
		}
		return b, nil
	}
	return nil, en.fail(ErrJSONType, `want a string or {"base64":"..."}, got %s`, describe(j))
}

// prim encodes a primitive value.
func (en *encoder) prim(p schema.PrimKind, j *jvalue) error {
	switch p {
	case schema.PrimNat:
		v, err := en.uint32(j)
		en.out = tl.AppendUint32(en.out, v)
		return err
	case schema.PrimInt:
		v, err := en.int32(j)
		en.out = tl.AppendInt32(en.out, v)
		return err
	case schema.PrimLong:
		v, err := en.int64(j)
		en.out = tl.AppendInt64(en.out, v)
		return err
	case schema.PrimFloat:
		v, err := en.float(j, 32)
		en.out = tl.AppendUint32(en.out, uint32(v))
		return err
	case schema.PrimDouble:
		v, err := en.float(j, 64)
		en.out = tl.AppendUint64(en.out, v)
		return err
	case schema.PrimString, schema.PrimBytes:
		b, err := en.bytes(j)
		en.out = tl.AppendBytes(en.out, b)
		return err
	case schema.PrimInt128, schema.PrimInt256:
		n := 16
		if p == schema.PrimInt256 {
			n = 32
		}
		if j.kind != jString || len(j.s) != 2*n {
			return en.fail(ErrJSONType, "want %d hex digits for %v, got %s", 2*n, p, describe(j))
		}
		b, err := hex.DecodeString(j.s)
		if err != nil {
			return en.fail(ErrJSONType, "want %d hex digits for %v: %v", 2*n, p, err)
		}
		en.out = append(en.out, b...)
		return nil
	}
	return en.fail(ErrSchema, "unknown primitive %v", p)
}
