package tl

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl/internal/tltest"
)

func TestFixedGolden(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"uint32", AppendUint32(nil, 0x01020304), "04030201"},
		{"int32 -1", AppendInt32(nil, -1), "ffffffff"},
		{"int32 5", AppendInt32(nil, 5), "05000000"},
		{"boxed Int 5", AppendInt32(AppendUint32(nil, TagInt), 5), "da9b50a8 05000000"},
		{"int64", AppendInt64(nil, -2), "feffffff ffffffff"},
		{"uint64", AppendUint64(nil, 0x0102030405060708), "08070605 04030201"},
		{"float pi", AppendFloat32(nil, math.Pi), "db0f4940"},
		{"double 1.5", AppendFloat64(nil, 1.5), "00000000 0000f83f"},
		{"appends", AppendUint32([]byte{0xaa}, 1), "aa 01000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if want := tltest.Unhex(t, tt.want); !bytes.Equal(tt.got, want) {
				t.Fatalf("got %x, want %x", tt.got, want)
			}
		})
	}
}

func TestFixedTruncated(t *testing.T) {
	for n := range 8 {
		in := make([]byte, n)
		if n < 4 {
			if _, rest, err := ReadUint32(in); !errors.Is(err, ErrTruncated) || len(rest) != n {
				t.Errorf("ReadUint32(%d bytes): err %v rest %d", n, err, len(rest))
			}
			if _, _, err := ReadInt32(in); !errors.Is(err, ErrTruncated) {
				t.Errorf("ReadInt32(%d bytes): %v", n, err)
			}
			if _, _, err := ReadFloat32(in); !errors.Is(err, ErrTruncated) {
				t.Errorf("ReadFloat32(%d bytes): %v", n, err)
			}
		}
		if _, rest, err := ReadUint64(in); !errors.Is(err, ErrTruncated) || len(rest) != n {
			t.Errorf("ReadUint64(%d bytes): err %v rest %d", n, err, len(rest))
		}
		if _, _, err := ReadInt64(in); !errors.Is(err, ErrTruncated) {
			t.Errorf("ReadInt64(%d bytes): %v", n, err)
		}
		if _, _, err := ReadFloat64(in); !errors.Is(err, ErrTruncated) {
			t.Errorf("ReadFloat64(%d bytes): %v", n, err)
		}
	}
}

// TestFixedRoundTrip writes random values back to back and reads them in the
// same order, so a reader that advances by the wrong width fails.
func TestFixedRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		u32, i32 := rng.Uint32(), int32(rng.Uint32())
		u64, i64 := rng.Uint64(), int64(rng.Uint64())
		f32 := math.Float32frombits(rng.Uint32())
		f64 := math.Float64frombits(rng.Uint64())

		var b []byte
		b = AppendUint32(b, u32)
		b = AppendInt32(b, i32)
		b = AppendUint64(b, u64)
		b = AppendInt64(b, i64)
		b = AppendFloat32(b, f32)
		b = AppendFloat64(b, f64)
		if len(b) != 36 {
			t.Fatalf("encoded %d bytes, want 36", len(b))
		}

		gu32, r, err := ReadUint32(b)
		must(t, err)
		gi32, r, err := ReadInt32(r)
		must(t, err)
		gu64, r, err := ReadUint64(r)
		must(t, err)
		gi64, r, err := ReadInt64(r)
		must(t, err)
		gf32, r, err := ReadFloat32(r)
		must(t, err)
		gf64, r, err := ReadFloat64(r)
		must(t, err)
		if len(r) != 0 {
			t.Fatalf("%d bytes left", len(r))
		}
		// Floats compare by bits so NaN payloads count.
		if gu32 != u32 || gi32 != i32 || gu64 != u64 || gi64 != i64 ||
			math.Float32bits(gf32) != math.Float32bits(f32) ||
			math.Float64bits(gf64) != math.Float64bits(f64) {
			t.Fatalf("round trip mismatch")
		}
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
