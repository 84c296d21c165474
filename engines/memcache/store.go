package memcache

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rpcproxy/rpcproxy/engines"
)

// Defaults and limits of Config.
const (
	DefaultShards      = 64
	DefaultMaxKeyLen   = 1024
	DefaultMaxValueLen = 1 << 20
	DefaultMaxBytes    = 256 << 20
	DefaultSweepEvery  = time.Second
	DefaultSweepBudget = 4096
	// relativeLimit: a delay above 30 days is an absolute unix time, as
	// in memcached.
	relativeLimit = 30 * 24 * 3600
	// itemOverhead is charged per item on top of key and value bytes.
	itemOverhead = 64
)

// Config configures a Store; zero fields take the defaults.
type Config struct {
	// Clock drives expiry and the sweep; nil means engines.SystemClock.
	Clock engines.Clock
	// Shards is the number of lock stripes, rounded up to a power of two.
	Shards int
	// MaxKeyLen and MaxValueLen bound one key and one value; longer ones
	// are answered TOO_LONG_STRING (-2003).
	MaxKeyLen   int
	MaxValueLen int
	// MaxBytes bounds keys + values + a per-item overhead; a write that
	// would pass it is answered OUT_OF_MEMORY (-3009). There is no
	// eviction: a test engine should fail loudly, not forget silently.
	MaxBytes int64
	// SweepEvery is the period of the expiry sweep; SweepBudget bounds the
	// items it looks at per run (spread over the shards).
	SweepEvery  time.Duration
	SweepBudget int
}

// Store is the in-memory memcache: lock-striped maps of items with lazy
// expiry on access and a bounded periodic sweep. It is safe for
// concurrent use.
type Store struct {
	cfg     Config
	clock   engines.Clock
	stripes engines.Stripes
	shards  []shard // stripes.Len() of them

	bytes   atomic.Int64
	items   atomic.Int64
	expired atomic.Int64

	sweepMu   sync.Mutex
	sweepNext int // shard the next sweep starts at
	timer     engines.Timer
	timers    sync.WaitGroup
	closed    bool
}

// shard is one lock stripe. Items are pointers so that an overwrite or an
// incr updates the item in place: assigning to a map with a []byte key
// converted to string would allocate the key each time.
type shard struct {
	mu sync.RWMutex
	m  map[string]*item
	_  [40]byte // keep neighbouring locks off one cache line
}

// item is a stored value. A value written by set/add/replace is a string
// (get answers memcache.strvalue); one written by incr/decr is a number
// (num, get answers memcache.longvalue), so a client reading a counter
// gets the long it counts with.
type item struct {
	value   []byte
	num     int64
	isNum   bool
	flags   int32
	expires int64 // unix nanoseconds; 0 = never
}

func (it *item) size(key string) int64 {
	return int64(len(key)+cap(it.value)) + itemOverhead
}

// New returns a Store and starts its expiry sweep (stopped by Close).
func New(cfg Config) (*Store, error) {
	if cfg.Clock == nil {
		cfg.Clock = engines.SystemClock()
	}
	def := func(v *int, d int, name string) error {
		switch {
		case *v < 0:
			return fmt.Errorf("memcache: %s %d is negative", name, *v)
		case *v == 0:
			*v = d
		}
		return nil
	}
	for _, f := range []struct {
		v    *int
		d    int
		name string
	}{
		{&cfg.Shards, DefaultShards, "Shards"}, {&cfg.MaxKeyLen, DefaultMaxKeyLen, "MaxKeyLen"},
		{&cfg.MaxValueLen, DefaultMaxValueLen, "MaxValueLen"}, {&cfg.SweepBudget, DefaultSweepBudget, "SweepBudget"},
	} {
		if err := def(f.v, f.d, f.name); err != nil {
			return nil, err
		}
	}
	if cfg.Shards > 1<<16 {
		return nil, fmt.Errorf("memcache: Shards %d above %d", cfg.Shards, 1<<16)
	}
	switch {
	case cfg.MaxBytes < 0:
		return nil, fmt.Errorf("memcache: MaxBytes %d is negative", cfg.MaxBytes)
	case cfg.MaxBytes == 0:
		cfg.MaxBytes = DefaultMaxBytes
	}
	switch {
	case cfg.SweepEvery < 0:
		return nil, fmt.Errorf("memcache: SweepEvery %v is negative", cfg.SweepEvery)
	case cfg.SweepEvery == 0:
		cfg.SweepEvery = DefaultSweepEvery
	}
	st := engines.NewStripes(cfg.Shards)
	s := &Store{cfg: cfg, clock: cfg.Clock, stripes: st, shards: make([]shard, st.Len())}
	for i := range s.shards {
		s.shards[i].m = make(map[string]*item)
	}
	s.sweepMu.Lock()
	s.armLocked()
	s.sweepMu.Unlock()
	return s, nil
}

func (s *Store) shard(key []byte) *shard {
	return &s.shards[s.stripes.Index(key)]
}

func (s *Store) now() int64 { return s.clock.Now().UnixNano() }

// expiry converts a memcached delay to an absolute time in unix ns: 0 is
// never, up to 30 days is relative seconds, above is a unix time, and a
// negative delay is already expired (memcached's rule).
func expiry(delay int32, now int64) int64 {
	switch {
	case delay == 0:
		return 0
	case delay < 0:
		return now - 1
	case delay <= relativeLimit:
		return now + int64(delay)*int64(time.Second)
	default:
		if t := int64(delay) * int64(time.Second); t > 0 {
			return t
		}
		return 1
	}
}

func live(it *item, now int64) bool { return it.expires == 0 || now < it.expires }

// Len returns the number of items, expired ones not yet removed included.
func (s *Store) Len() int { return int(s.items.Load()) }

// Stats adds the store's counters to engine.stat.
func (s *Store) Stats(add func(k, v string)) {
	add("keys", strconv.FormatInt(s.items.Load(), 10))
	add("bytes", strconv.FormatInt(s.bytes.Load(), 10))
	add("limit_maxbytes", strconv.FormatInt(s.cfg.MaxBytes, 10))
	add("expired_total", strconv.FormatInt(s.expired.Load(), 10))
}

// Sweep removes expired items, looking at no more than budget items (at
// least one per shard), starting where the previous sweep stopped. Go's
// randomized map iteration makes the items looked at a random sample, as
// in Redis' active expiry. It returns the number removed.
func (s *Store) Sweep(budget int) int {
	s.sweepMu.Lock()
	start := s.sweepNext
	s.sweepNext = (start + 1) % len(s.shards)
	s.sweepMu.Unlock()
	per := max(budget/len(s.shards), 1)
	now := s.now()
	removed := 0
	for i := range s.shards {
		sh := &s.shards[(start+i)%len(s.shards)]
		sh.mu.Lock()
		seen := 0
		for k, it := range sh.m {
			if seen == per {
				break
			}
			seen++
			if !live(it, now) {
				s.removeLocked(sh, k, it)
				s.expired.Add(1)
				removed++
			}
		}
		sh.mu.Unlock()
	}
	return removed
}

func (s *Store) removeLocked(sh *shard, key string, it *item) {
	delete(sh.m, key)
	s.bytes.Add(-it.size(key))
	s.items.Add(-1)
}

// armLocked schedules the next sweep.
func (s *Store) armLocked() {
	s.timers.Add(1)
	s.timer = s.clock.AfterFunc(s.cfg.SweepEvery, s.tick)
}

func (s *Store) tick() {
	defer s.timers.Done()
	s.Sweep(s.cfg.SweepBudget)
	s.sweepMu.Lock()
	if !s.closed {
		s.armLocked()
	}
	s.sweepMu.Unlock()
}

// Close stops the sweep and waits for a running one. The items stay
// readable.
func (s *Store) Close() {
	s.sweepMu.Lock()
	if !s.closed {
		s.closed = true
		if s.timer.Stop() {
			s.timers.Done()
		}
	}
	s.sweepMu.Unlock()
	s.timers.Wait()
}
