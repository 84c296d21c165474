package sharding

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func names(n int) []Shard {
	shards := make([]Shard, n)
	for i := range shards {
		shards[i] = Shard{Name: fmt.Sprintf("shard-%d:1234", i)}
	}
	return shards
}

// allSpecs is every mode with every key hash it accepts, over n shards.
func allSpecs(n int) []Spec {
	specs := []Spec{{Mode: ModeFirstInt, Shards: names(n)}}
	for _, m := range Modes()[1:] {
		for _, h := range m.KeyHashes() {
			s := Spec{Mode: m, Hash: h, Shards: names(n)}
			if m == ModeBounded && n > DefaultPartitions {
				s.Partitions = 10*n + 1
			}
			specs = append(specs, s)
		}
	}
	return specs
}

func specName(s Spec) string {
	if s.Hash == "" {
		return string(s.Mode)
	}
	return string(s.Mode) + "-" + string(s.Hash)
}

func mustPicker(t testing.TB, s Spec) *Picker {
	t.Helper()
	p, err := NewPicker(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func countKeys(t *testing.T, p *Picker, keys int) []int {
	t.Helper()
	counts := make([]int, p.Len())
	for i := range keys {
		s, err := p.Pick([]byte("user:" + strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		counts[s]++
	}
	return counts
}

func TestNewPickerErrors(t *testing.T) {
	tests := []struct {
		name        string
		spec        Spec
		expectedErr string
	}{
		{"unknown mode", Spec{Mode: "modulo", Shards: names(2)}, `unknown mode "modulo" (allowed: firstint, hash, ketama, bounded)`},
		{"empty mode", Spec{Shards: names(2)}, `unknown mode ""`},
		{"no shards", Spec{Mode: ModeHash}, "hash: no shards"},
		{"too many shards", Spec{Mode: ModeHash, Shards: make([]Shard, MaxShards+1)}, "at most 65536"},
		{"firstint with hash", Spec{Mode: ModeFirstInt, Hash: HashCRC32, Shards: names(2)}, `firstint: takes no key hash, got "crc32"`},
		{"hash with md5", Spec{Mode: ModeHash, Hash: HashMD5, Shards: names(2)}, `hash: unknown key hash "md5" (allowed: crc32, xxhash)`},
		{"ketama with sha1", Spec{Mode: ModeKetama, Hash: "sha1", Shards: names(2)}, "allowed: md5, crc32, fnv1a_64, xxhash"},
		{"bounded with crc32", Spec{Mode: ModeBounded, Hash: HashCRC32, Shards: names(2)}, "allowed: xxhash"},
		{"load on ketama", Spec{Mode: ModeKetama, Load: 1.5, Shards: names(2)}, `load applies only to mode "bounded"`},
		{"partitions on hash", Spec{Mode: ModeHash, Partitions: 7, Shards: names(2)}, `partitions apply only to mode "bounded"`},
		{"bounded load below 1", Spec{Mode: ModeBounded, Load: 0.9, Shards: names(2)}, "load 0.9, must be at least 1"},
		{"bounded load NaN", Spec{Mode: ModeBounded, Load: math.NaN(), Shards: names(2)}, "must be at least 1"},
		{"bounded few partitions", Spec{Mode: ModeBounded, Partitions: 2, Shards: names(3)}, "2 partitions, must be between the shard count 3"},
		{"bounded default partitions too few", Spec{Mode: ModeBounded, Shards: names(272)}, "271 partitions, must be between the shard count 272"},
		{"bounded negative partitions", Spec{Mode: ModeBounded, Partitions: -1, Shards: names(3)}, "-1 partitions"},
		{"negative weight", Spec{Mode: ModeKetama, Shards: []Shard{{Name: "a", Weight: -1}}}, `shard 0 ("a"): weight -1, must be between 0 and`},
		{"weight on hash", Spec{Mode: ModeHash, Shards: []Shard{{Name: "a"}, {Name: "b", Weight: 2}}}, `hash: shard 1 ("b"): weight 2, only mode "ketama" has weights`},
		{"weight on bounded", Spec{Mode: ModeBounded, Shards: []Shard{{Name: "a", Weight: 3}}}, "only mode"},
		{"ketama unnamed", Spec{Mode: ModeKetama, Shards: []Shard{{Name: "a"}, {}}}, "ketama: shard 1 has no name"},
		{"bounded duplicate", Spec{Mode: ModeBounded, Shards: []Shard{{Name: "a"}, {Name: "b"}, {Name: "a"}}}, `shards 0 and 2 are both named "a"`},
		{"ketama weight too small", Spec{Mode: ModeKetama, Shards: []Shard{{Name: "a", Weight: MaxWeight}, {Name: "b", Weight: 1}}}, `shard 1 ("b"): weight 1 of total 1048577 is too small`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPicker(tt.spec)
			if err == nil {
				t.Fatalf("NewPicker = %v, want error containing %q", p, tt.expectedErr)
			}
			if !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("error %q does not wrap ErrInvalidSpec", err)
			}
			if !strings.Contains(err.Error(), tt.expectedErr) || !strings.HasPrefix(err.Error(), "sharding: ") {
				t.Errorf("error %q, want it to start with \"sharding: \" and contain %q", err, tt.expectedErr)
			}
		})
	}
}

func TestNewPickerDefaults(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		hash KeyHash
	}{
		{"firstint", Spec{Mode: ModeFirstInt, Shards: []Shard{{}, {}}}, ""},
		{"hash", Spec{Mode: ModeHash, Shards: []Shard{{}, {}}}, HashCRC32},
		{"ketama", Spec{Mode: ModeKetama, Shards: names(2)}, HashMD5},
		{"bounded", Spec{Mode: ModeBounded, Shards: names(2)}, HashXXHash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPicker(t, tt.spec)
			if p.KeyHash() != tt.hash || p.Mode() != tt.spec.Mode || p.Len() != 2 {
				t.Errorf("got mode %q hash %q len %d, want %q %q 2", p.Mode(), p.KeyHash(), p.Len(), tt.spec.Mode, tt.hash)
			}
			if p.KeyHash() != tt.spec.Mode.DefaultKeyHash() {
				t.Errorf("KeyHash %q != DefaultKeyHash %q", p.KeyHash(), tt.spec.Mode.DefaultKeyHash())
			}
		})
	}
	if p := mustPicker(t, Spec{Mode: ModeBounded, Shards: names(3)}); len(p.parts) != DefaultPartitions {
		t.Errorf("bounded default partitions = %d, want %d", len(p.parts), DefaultPartitions)
	}
	if got := Modes(); !slices.Equal(got, []Mode{"firstint", "hash", "ketama", "bounded"}) {
		t.Errorf("Modes() = %v", got)
	}
	if got := Mode("nope").KeyHashes(); got != nil {
		t.Errorf("unknown mode KeyHashes = %v, want nil", got)
	}
}

func TestDefaultShardName(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"memcached port dropped", "10.0.0.1:11211", "10.0.0.1"},
		{"other port kept", "10.0.0.1:11212", "10.0.0.1:11212"},
		{"hostname", "mc1.example:11211", "mc1.example"},
		{"redis", "127.0.0.1:6379", "127.0.0.1:6379"},
		{"no port", "mc1", "mc1"},
		{"ipv6 bracket kept", "[::1]:11211", "[::1]"},
		{"bad port", "h:abc", "h:abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DefaultShardName(tt.in); got != tt.want {
				t.Errorf("DefaultShardName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestVKCRC32Example is VK's example: crc32("photo100_500") = 3539886280,
// shard 8 of 16.
func TestVKCRC32Example(t *testing.T) {
	p := mustPicker(t, Spec{Mode: ModeHash, Shards: make([]Shard, 16)})
	if got := p.crc.checksum([]byte("photo100_500")); got != 3539886280 {
		t.Errorf("crc32 = %d, want 3539886280", got)
	}
	if got, err := p.Pick([]byte("photo100_500")); got != 8 || err != nil {
		t.Errorf("Pick = %d, %v; want 8", got, err)
	}
	fi := mustPicker(t, Spec{Mode: ModeFirstInt, Shards: make([]Shard, 16)})
	if got, err := fi.Pick([]byte("photo100_500")); got != 100%16 || err != nil {
		t.Errorf("firstint Pick = %d, %v; want %d", got, err, 100%16)
	}
}

func TestPickIntAgreesWithDecimalText(t *testing.T) {
	values := []int64{0, 1, 42, 100, -1, -42, 1 << 40, math.MaxInt64, math.MinInt64}
	for _, s := range allSpecs(7) {
		t.Run(specName(s), func(t *testing.T) {
			p := mustPicker(t, s)
			for _, v := range values {
				if s.Mode == ModeFirstInt && v < 0 {
					continue // the text's sign is not a digit; see TestFirstIntPickInt
				}
				want, err := p.Pick([]byte(strconv.FormatInt(v, 10)))
				if err != nil {
					t.Fatal(err)
				}
				if got := p.PickInt(v); got != want {
					t.Errorf("PickInt(%d) = %d, Pick(%q) = %d", v, got, strconv.FormatInt(v, 10), want)
				}
			}
		})
	}
}

func TestSingleShard(t *testing.T) {
	for _, s := range allSpecs(1) {
		t.Run(specName(s), func(t *testing.T) {
			p := mustPicker(t, s)
			for _, k := range []string{"", "no digits", "user:1", "99999999999999999999999"} {
				if got, err := p.Pick([]byte(k)); got != 0 || err != nil {
					t.Errorf("Pick(%q) = %d, %v; want 0, nil", k, got, err)
				}
			}
			if got := p.PickInt(-5); got != 0 {
				t.Errorf("PickInt(-5) = %d", got)
			}
		})
	}
}

// TestDistribution bounds max/mean of 100k keys per mode. The bounds leave
// room for each algorithm's expected spread: a modulo hash is within a few
// percent; ketama's 160 points per shard are coarser; bounded is held under
// its load cap.
func TestDistribution(t *testing.T) {
	bounds := map[Mode]float64{ModeFirstInt: 1.01, ModeHash: 1.05, ModeKetama: 1.2}
	for _, n := range []int{10, 16} {
		for _, s := range allSpecs(n) {
			if s.Hash == HashFNV1a64 {
				continue // twemproxy's fnv1a_64 is known to clump; see sharding.md
			}
			t.Run(fmt.Sprintf("%s/shards=%d", specName(s), n), func(t *testing.T) {
				const keys = 100_000
				counts := countKeys(t, mustPicker(t, s), keys)
				ratio := float64(slices.Max(counts)) / (float64(keys) / float64(n))
				bound := bounds[s.Mode]
				if s.Mode == ModeBounded {
					// A shard may own up to the load cap of partitions, each
					// carrying its own share of key noise.
					avg := float64(DefaultPartitions) / float64(n)
					bound = math.Ceil(avg*DefaultLoad)/avg + 0.08
				}
				t.Logf("max/mean = %.3f (bound %.3f)", ratio, bound)
				if ratio > bound {
					t.Errorf("max/mean = %.3f, want <= %.3f (counts %v)", ratio, bound, counts)
				}
				if slices.Min(counts) == 0 {
					t.Errorf("a shard got no keys: %v", counts)
				}
			})
		}
	}
}
