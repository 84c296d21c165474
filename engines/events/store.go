package events

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/rpcproxy/rpcproxy/engines"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// Defaults and limits of Config and of the limit:int arguments.
const (
	DefaultShards     = 64
	DefaultMaxEvents  = 1 << 20
	DefaultMaxKeyLen  = 1024
	DefaultMaxTextLen = 4096
	DefaultMaxBytes   = 256 << 20

	// MaxKeyLenLimit and MaxTextLenLimit bound the Config fields so that
	// an answer of MaxLimit largest events (about 12.3 MB) fits in one
	// 16 MiB packet.
	MaxKeyLenLimit  = 4096
	MaxTextLenLimit = 8192

	// DefaultLimit is used for limit <= 0; MaxLimit is the largest limit
	// accepted. Both are part of the schema's contract (events.tl): a
	// sorted merge at the proxy applies the same default.
	DefaultLimit = 100
	MaxLimit     = 1000

	// NoMinTs and NoMaxTs are what minTs and maxTs answer when no event
	// matches: the identities of min and max.
	NoMinTs = math.MaxInt64
	NoMaxTs = math.MinInt64

	// eventOverhead is charged per event on top of key and text bytes.
	eventOverhead = 64
)

// Config configures a Store; zero fields take the defaults.
type Config struct {
	// Clock gives the time of events added with ts = 0; nil means
	// engines.SystemClock.
	Clock engines.Clock
	// Shards is the number of lock stripes, rounded up to a power of two.
	Shards int
	// MaxEvents bounds the number of stored events (up to MaxInt32, so
	// count and delete fit their Int answers).
	MaxEvents int
	// MaxKeyLen and MaxTextLen bound one key and one text; longer ones
	// are answered TOO_LONG_STRING (-2003).
	MaxKeyLen  int
	MaxTextLen int
	// MaxBytes bounds keys + texts + a per-event overhead; an add past it
	// (or past MaxEvents) is answered OUT_OF_MEMORY (-3009). Nothing is
	// evicted: a test engine should fail loudly, not forget silently.
	MaxBytes int64
}

// Store is the in-memory event store, safe for concurrent use.
type Store struct {
	cfg     Config
	clock   engines.Clock
	stripes engines.Stripes
	shards  []shard // stripes.Len() of them

	lastID  atomic.Int64
	events  atomic.Int64
	bytes   atomic.Int64
	keys    atomic.Int64
	refused atomic.Int64 // adds refused for OUT_OF_MEMORY
}

// shard is one lock stripe: the events of its keys, each key's slice
// sorted by (ts, id) ascending.
type shard struct {
	mu sync.RWMutex
	m  map[string][]*event
	_  [40]byte // keep neighbouring locks off one cache line
}

// event is a stored event. It is never modified after add, so readers may
// keep a pointer after releasing the stripe's lock.
type event struct {
	id, ts int64
	key    string // shared with the map key
	text   []byte
}

func (e *event) size() int64 { return int64(len(e.key)+len(e.text)) + eventOverhead }

// older orders events by (ts, id) ascending, the order of list.
func older(a, b *event) int {
	if a.ts != b.ts {
		if a.ts < b.ts {
			return -1
		}
		return 1
	}
	switch {
	case a.id < b.id:
		return -1
	case a.id > b.id:
		return 1
	}
	return 0
}

// New validates cfg and returns an empty Store.
func New(cfg Config) (*Store, error) {
	if cfg.Clock == nil {
		cfg.Clock = engines.SystemClock()
	}
	for _, f := range []struct {
		v        *int
		def, max int
		name     string
	}{
		{&cfg.Shards, DefaultShards, 1 << 16, "Shards"},
		{&cfg.MaxEvents, DefaultMaxEvents, math.MaxInt32, "MaxEvents"},
		{&cfg.MaxKeyLen, DefaultMaxKeyLen, MaxKeyLenLimit, "MaxKeyLen"},
		{&cfg.MaxTextLen, DefaultMaxTextLen, MaxTextLenLimit, "MaxTextLen"},
	} {
		switch {
		case *f.v < 0 || *f.v > f.max:
			return nil, fmt.Errorf("events: %s %d outside [0, %d]", f.name, *f.v, f.max)
		case *f.v == 0:
			*f.v = f.def
		}
	}
	switch {
	case cfg.MaxBytes < 0:
		return nil, fmt.Errorf("events: MaxBytes %d is negative", cfg.MaxBytes)
	case cfg.MaxBytes == 0:
		cfg.MaxBytes = DefaultMaxBytes
	}
	st := engines.NewStripes(cfg.Shards)
	s := &Store{cfg: cfg, clock: cfg.Clock, stripes: st, shards: make([]shard, st.Len())}
	for i := range s.shards {
		s.shards[i].m = make(map[string][]*event)
	}
	return s, nil
}

func (s *Store) shard(key []byte) *shard {
	return &s.shards[s.stripes.Index(key)]
}

// Len returns the number of stored events.
func (s *Store) Len() int { return int(s.events.Load()) }

// Stats adds the store's counters to engine.stat.
func (s *Store) Stats(add func(k, v string)) {
	add("events", strconv.FormatInt(s.events.Load(), 10))
	add("event_keys", strconv.FormatInt(s.keys.Load(), 10))
	add("event_bytes", strconv.FormatInt(s.bytes.Load(), 10))
	add("events_last_id", strconv.FormatInt(s.lastID.Load(), 10))
	add("events_refused", strconv.FormatInt(s.refused.Load(), 10))
	add("limit_max_events", strconv.Itoa(s.cfg.MaxEvents))
	add("limit_maxbytes", strconv.FormatInt(s.cfg.MaxBytes, 10))
}

// reserve adds n to c unless that passes limit. A CAS loop rather than
// add-then-undo, so an add refused by one limit does not make concurrent
// adds fail on it too (an add refused for bytes does hold an event slot
// for a moment before giving it back).
func reserve(c *atomic.Int64, n, limit int64) bool {
	for {
		old := c.Load()
		if old+n > limit {
			return false
		}
		if c.CompareAndSwap(old, old+n) {
			return true
		}
	}
}

// add stores a copy of key and text at ts (0: now, from the clock) and
// returns the new event's id.
func (s *Store) add(key []byte, ts int64, text []byte) (int64, error) {
	switch {
	case len(key) > s.cfg.MaxKeyLen:
		return 0, &rpc.Error{Code: rpc.CodeTooLongString, Description: fmt.Sprintf("events: key of %d bytes, max %d", len(key), s.cfg.MaxKeyLen)}
	case len(text) > s.cfg.MaxTextLen:
		return 0, &rpc.Error{Code: rpc.CodeTooLongString, Description: fmt.Sprintf("events: text of %d bytes, max %d", len(text), s.cfg.MaxTextLen)}
	case ts < 0 || ts == NoMinTs:
		return 0, &rpc.Error{Code: rpc.CodeValueNotInRange, Description: fmt.Sprintf("events: ts %d outside [0, %d]", ts, int64(NoMinTs-1))}
	case ts == 0:
		ts = s.clock.Now().UnixMilli()
	}
	size := int64(len(key)+len(text)) + eventOverhead
	if !reserve(&s.events, 1, int64(s.cfg.MaxEvents)) {
		s.refused.Add(1)
		return 0, &rpc.Error{Code: rpc.CodeOutOfMemory, Description: fmt.Sprintf("events: %d events stored, the limit", s.cfg.MaxEvents)}
	}
	if !reserve(&s.bytes, size, s.cfg.MaxBytes) {
		s.events.Add(-1)
		s.refused.Add(1)
		return 0, &rpc.Error{Code: rpc.CodeOutOfMemory, Description: fmt.Sprintf("events: %d more bytes would pass the limit of %d", size, s.cfg.MaxBytes)}
	}
	e := &event{ts: ts, text: slices.Clone(text)} // the request buffer is reused
	sh := s.shard(key)
	sh.mu.Lock()
	// The id is taken under the stripe lock so that a key's events are
	// published in id order: list never shows a later id without the
	// earlier ones of the same key.
	e.id = s.lastID.Add(1)
	evs, ok := sh.m[string(key)]
	if ok {
		e.key = evs[0].key
	} else {
		e.key = string(key)
		s.keys.Add(1)
	}
	i, _ := slices.BinarySearchFunc(evs, e, older)
	sh.m[e.key] = slices.Insert(evs, i, e)
	sh.mu.Unlock()
	return e.id, nil
}

// remove deletes every event under key and returns how many it deleted.
func (s *Store) remove(key []byte) int {
	sh := s.shard(key)
	sh.mu.Lock()
	evs, ok := sh.m[string(key)]
	if ok {
		delete(sh.m, string(key))
	}
	sh.mu.Unlock()
	if !ok {
		return 0
	}
	var size int64
	for _, e := range evs {
		size += e.size()
	}
	s.bytes.Add(-size)
	s.events.Add(-int64(len(evs)))
	s.keys.Add(-1)
	return len(evs)
}
