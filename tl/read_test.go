package tl

import (
	"bytes"
	"errors"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl/internal/tltest"
)

func TestBool(t *testing.T) {
	if got := AppendBool(nil, true); !bytes.Equal(got, tltest.Unhex(t, "b5757299")) {
		t.Fatalf("AppendBool(true) = %x", got)
	}
	if got := AppendBool(nil, false); !bytes.Equal(got, tltest.Unhex(t, "379779bc")) {
		t.Fatalf("AppendBool(false) = %x", got)
	}
	tests := []struct {
		name    string
		in      string
		want    bool
		wantErr error
	}{
		{"true", "b5757299", true, nil},
		{"false", "379779bc", false, nil},
		{"True is not Bool", "39d3ed3f", false, ErrTag},
		{"truncated", "b57572", false, ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rest, err := ReadBool(tltest.Unhex(t, tt.in))
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Fatalf("got %v, %v; want %v, %v", got, err, tt.want, tt.wantErr)
			}
			if err == nil && len(rest) != 0 {
				t.Fatalf("rest %x", rest)
			}
		})
	}
}

func TestExpectTag(t *testing.T) {
	in := tltest.Unhex(t, "15c4b51c 00000000")
	rest, err := ExpectTag(in, TagVector)
	if err != nil || len(rest) != 4 {
		t.Fatalf("ExpectTag(vector) = %x, %v", rest, err)
	}
	rest, err = ExpectTag(in, TagTuple)
	if !errors.Is(err, ErrTag) || len(rest) != len(in) {
		t.Fatalf("ExpectTag(tuple) = %x, %v", rest, err)
	}
	if want := "tl: unexpected tag: want 0x9770768a, got 0x1cb5c415"; err.Error() != want {
		t.Fatalf("message %q, want %q", err, want)
	}
	if _, err := ExpectTag(in[:3], TagVector); !errors.Is(err, ErrTruncated) {
		t.Fatalf("short: %v", err)
	}
}

func TestReadCount(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		minSize int
		want    int
		wantErr error
	}{
		{"empty vector", "00000000", 4, 0, nil},
		{"two ints fit", "02000000 05000000 00000000", 4, 2, nil},
		{"two ints, one present", "02000000 05000000", 4, 0, ErrTruncated},
		{"two longs, 12 bytes", "02000000 00000000 00000000 00000000", 8, 0, ErrTruncated},
		{"max count", "ffffffff 00000000", 4, 0, ErrTruncated},
		{"max count huge elems", "ffffffff", 1 << 40, 0, ErrTruncated},
		{"one huge elem", "01000000", 1 << 40, 0, ErrTruncated},
		{"zero-size at limit", "00000100", 0, MaxZeroSizeCount, nil},
		{"zero-size over limit", "01000100", 0, 0, ErrLimit},
		{"negative min size", "ffffffff", -1, 0, ErrLimit},
		{"truncated count", "0100", 4, 0, ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tltest.Unhex(t, tt.in)
			got, rest, err := ReadCount(in, tt.minSize)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Fatalf("got %d, %v; want %d, %v", got, err, tt.want, tt.wantErr)
			}
			if err == nil && len(rest) != len(in)-4 {
				t.Fatalf("rest %d bytes", len(rest))
			}
			if err != nil && len(rest) != len(in) {
				t.Fatalf("on error rest %d bytes, want the input", len(rest))
			}
		})
	}
}

// TestWorkedExamples rebuilds the byte examples of tl.md §5.5 and §5.8 from
// the primitives.
func TestWorkedExamples(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"Vector int [5,0]",
			AppendInt32(AppendInt32(AppendUint32(AppendUint32(nil, TagVector), 2), 5), 0),
			"15c4b51c 02000000 05000000 00000000"},
		{"memcache.set foo 0 0 bar",
			AppendString(AppendInt32(AppendInt32(AppendString(AppendUint32(nil, 0xeeeb54c4), "foo"), 0), 0), "bar"),
			"c454ebee 03666f6f 00000000 00000000 03626172"},
		{"memcache.get foo", AppendString(AppendUint32(nil, 0xd33b13ae), "foo"), "ae133bd3 03666f6f"},
		{"memcache.strvalue bar 1",
			AppendInt32(AppendString(AppendUint32(nil, 0xa6bebb1a), "bar"), 1),
			"1abbbea6 03626172 01000000"},
		{"memcache.not_found", AppendUint32(nil, 0x32c42422), "2224c432"},
		{"Bool true", AppendBool(nil, true), "b5757299"},
		{"Dictionary string a:b",
			AppendString(AppendString(AppendUint32(AppendUint32(nil, TagDictionary), 1), "a"), "b"),
			"8f614c1f 01000000 01610000 01620000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if want := tltest.Unhex(t, tt.want); !bytes.Equal(tt.got, want) {
				t.Fatalf("got %x, want %x", tt.got, want)
			}
		})
	}

	// Decode the dictionary back with the readers.
	r := tltest.Unhex(t, "8f614c1f 01000000 01610000 01620000")
	r, err := ExpectTag(r, TagDictionary)
	must(t, err)
	n, r, err := ReadCount(r, 8) // key string + value string, 4 bytes each at least
	must(t, err)
	for range n {
		var k, v []byte
		k, r, err = ReadBytes(r)
		must(t, err)
		v, r, err = ReadBytes(r)
		must(t, err)
		if string(k) != "a" || string(v) != "b" {
			t.Fatalf("entry %q=%q", k, v)
		}
	}
	if len(r) != 0 {
		t.Fatalf("%d bytes left", len(r))
	}
}
