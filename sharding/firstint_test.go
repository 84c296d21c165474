package sharding

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestFirstInt(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		want    uint64
		wantErr error
	}{
		{"vk example", "photo100_500", 100, nil},
		{"suffix", "user_42", 42, nil},
		{"plain", "12345", 12345, nil},
		{"leading zeros", "id007x", 7, nil},
		{"sign is not a digit", "user_-42", 42, nil},
		{"digits at end", "abc9", 9, nil},
		{"max uint64", "k18446744073709551615", math.MaxUint64, nil},
		{"overflow by one", "k18446744073709551616", 0, ErrOverflow},
		{"overflow long", "k99999999999999999999999_1", 0, ErrOverflow},
		{"no digits", "photo", 0, ErrNoDigits},
		{"empty", "", 0, ErrNoDigits},
		{"non-ascii", "фото", 0, ErrNoDigits},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := firstInt([]byte(tt.key))
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Fatalf("firstInt(%q) = %d, %v; want %d, %v", tt.key, got, err, tt.want, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tt.key) {
				t.Errorf("error %q does not quote the key", err)
			}
		})
	}
}

func TestFirstIntPick(t *testing.T) {
	p := mustPicker(t, Spec{Mode: ModeFirstInt, Shards: make([]Shard, 16)})
	tests := []struct {
		name    string
		key     string
		want    int
		wantErr error
	}{
		{"photo100", "photo100_500", 4, nil},
		{"user_42", "user_42", 10, nil},
		{"max", "18446744073709551615", int(uint64(math.MaxUint64) % 16), nil},
		{"no digits", "photo", 0, ErrNoDigits},
		{"overflow", "18446744073709551616", 0, ErrOverflow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.Pick([]byte(tt.key))
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Errorf("Pick(%q) = %d, %v; want %d, %v", tt.key, got, err, tt.want, tt.wantErr)
			}
		})
	}
	long := strings.Repeat("x", 1000)
	if _, err := p.Pick([]byte(long)); err == nil || len(err.Error()) > 200 {
		t.Errorf("error for a 1000-byte key is %d bytes, want it clipped", len(err.Error()))
	}
}

func TestFirstIntPickInt(t *testing.T) {
	p := mustPicker(t, Spec{Mode: ModeFirstInt, Shards: make([]Shard, 10)})
	tests := []struct {
		name string
		key  int64
		want int
	}{
		{"zero", 0, 0},
		{"positive", 123, 3},
		{"minus one", -1, 9},
		{"negative", -13, 7},
		{"multiple", -20, 0},
		{"max", math.MaxInt64, 7},
		{"min", math.MinInt64, 2}, // -9223372036854775808 = -922337203685477581*10 + 2
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.PickInt(tt.key); got != tt.want {
				t.Errorf("PickInt(%d) = %d, want %d", tt.key, got, tt.want)
			}
		})
	}
}
