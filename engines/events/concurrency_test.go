package events

import (
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/rpcproxy/rpcproxy/engines/enginetest"
	"github.com/rpcproxy/rpcproxy/tl"
)

// TestConcurrent: adds, deletes and every read on overlapping keys from
// many goroutines. Under -race this checks the locking; afterwards the
// counters must match a recount, ids must be unique and every key's
// events sorted.
func TestConcurrent(t *testing.T) {
	enginetest.LeakCheck(t)
	s, _ := newStore(t, Config{Shards: 4})
	const workers, rounds = 8, 200
	var wg sync.WaitGroup
	errs := make(chan string, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			calls := validCalls()
			for i := range rounds {
				k := "k" + strconv.Itoa(i%8)
				calls[TagAdd] = add(k, int64(1+(w*rounds+i)%97), "w"+strconv.Itoa(w))
				calls[TagDelete] = del(k)
				calls[TagList] = list(k, 0)
				calls[TagSearch] = search("w", 5)
				for _, f := range s.Funcs() {
					if f.Tag == TagDelete && i%11 != 0 {
						continue
					}
					if _, err := f.Call(calls[f.Tag][4:], nil); err != nil {
						errs <- f.Name + ": " + err.Error()
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	var events, bytes, keys int64
	ids := map[int64]bool{}
	for i := range s.shards {
		for k, evs := range s.shards[i].m {
			keys++
			if !slices.IsSortedFunc(evs, older) {
				t.Errorf("key %s not sorted", k)
			}
			for _, e := range evs {
				events++
				bytes += e.size()
				if ids[e.id] || e.key != k {
					t.Errorf("event %d under %s: duplicate id or key %s", e.id, k, e.key)
				}
				ids[e.id] = true
			}
		}
	}
	if events != s.events.Load() || bytes != s.bytes.Load() || keys != s.keys.Load() {
		t.Fatalf("accounting: %d events %d bytes %d keys, counters say %d, %d, %d",
			events, bytes, keys, s.events.Load(), s.bytes.Load(), s.keys.Load())
	}
	if got := s.lastID.Load(); got != workers*rounds {
		t.Fatalf("last id %d, want %d", got, workers*rounds)
	}
}

// TestConcurrentLimit: concurrent adds never store more than MaxEvents.
func TestConcurrentLimit(t *testing.T) {
	enginetest.LeakCheck(t)
	const limit, workers, rounds = 50, 8, 20
	s, _ := newStore(t, Config{MaxEvents: limit})
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored := 0
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				if _, err := s.add([]byte(strconv.Itoa(w)), int64(i+1), nil); err == nil {
					mu.Lock()
					stored++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if stored != limit || s.Len() != limit || s.refused.Load() != workers*rounds-limit {
		t.Fatalf("stored %d, Len %d, refused %d; want %d, %d, %d", stored, s.Len(), s.refused.Load(), limit, limit, workers*rounds-limit)
	}
}

// FuzzFuncs: no argument bytes make a function panic, and a successful
// answer is a whole number of words starting with a tag of its result.
func FuzzFuncs(f *testing.F) {
	for _, seed := range validCalls() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s, _ := newStore(t, Config{Shards: 1, MaxKeyLen: 16, MaxTextLen: 16})
		mustCall(t, s, add("k", 5, "text"))
		for _, fn := range s.Funcs() {
			args := body
			if len(args) >= 4 {
				args = args[4:]
			}
			out, err := fn.Call(args, nil)
			if err != nil {
				continue
			}
			if len(out)%4 != 0 || len(out) < 8 && fn.Tag != TagHas && fn.Tag != TagAllMatch && fn.Tag != TagFirstMatch {
				t.Fatalf("%s: answer %x", fn.Name, out)
			}
			switch tag, _, _ := tl.ReadUint32(out); tag {
			case tl.TagInt, tl.TagLong, tl.TagBoolTrue, tl.TagBoolFalse, tl.TagVector, tl.TagMaybeTrue, tl.TagMaybeFalse:
			default:
				t.Fatalf("%s: answer tag %08x", fn.Name, tag)
			}
		}
	})
}
