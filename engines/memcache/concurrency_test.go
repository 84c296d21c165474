package memcache

import (
	"bytes"
	"strconv"
	"sync"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl"
)

// TestConcurrent: writers, readers and counters on overlapping keys from
// many goroutines. Under -race this checks the locking; the final counter
// checks that no increment was lost.
func TestConcurrent(t *testing.T) {
	s, _ := newStore(t, Config{Shards: 4})
	if _, e := call(t, s, set("counter", 0, 0, "0")); e != nil {
		t.Fatal(e)
	}
	const workers, rounds = 8, 300
	var wg sync.WaitGroup
	errs := make(chan string, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				k := "k" + strconv.Itoa(i%16)
				v := strconv.Itoa(w) + ":" + strconv.Itoa(i)
				for _, f := range s.Funcs() {
					var args []byte
					switch f.Tag {
					case TagSet:
						args = set(k, int32(w), 0, v)[4:]
					case TagGet:
						args = get(k)[4:]
					case TagIncr:
						args = incr(TagIncr, "counter", 1)[4:]
					case TagGetMulti:
						args = getMulti(k, "counter")[4:]
					case TagDelete:
						if i%7 != 0 {
							continue
						}
						args = del(k)[4:]
					default:
						continue
					}
					if _, err := f.Call(args, nil); err != nil {
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
	got, e := call(t, s, get("counter"))
	if want := longValue(workers*rounds, 0); e != nil || !bytes.Equal(got, want) {
		t.Fatalf("counter %x %v, want %x", got, e, want)
	}
	// Accounting: bytes and keys match a recount.
	var items, bytes_ int64
	for i := range s.shards {
		for k, it := range s.shards[i].m {
			items++
			bytes_ += it.size(k)
		}
	}
	if items != s.items.Load() || bytes_ != s.bytes.Load() {
		t.Fatalf("accounting: %d items %d bytes, counters say %d and %d", items, bytes_, s.items.Load(), s.bytes.Load())
	}
}

// FuzzFuncs: no argument bytes make a function panic, and a successful
// answer is a whole number of words starting with a known tag.
func FuzzFuncs(f *testing.F) {
	for _, seed := range [][]byte{get("foo"), set("foo", 1, 0, "bar"), incr(TagIncr, "n", 5), getMulti("a", "b"), del("x")} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s, _ := newStore(t, Config{Shards: 1})
		_, _ = call(t, s, set("n", 0, 0, "1"))
		for _, fn := range s.Funcs() {
			args := body
			if len(args) >= 4 {
				args = args[4:]
			}
			out, err := fn.Call(args, nil)
			if err != nil {
				continue
			}
			if len(out)%4 != 0 || len(out) < 4 {
				t.Fatalf("%s: answer %x", fn.Name, out)
			}
			switch tag, _, _ := tl.ReadUint32(out); tag {
			case TagNotFound, TagStrValue, TagLongValue, tl.TagBoolTrue, tl.TagBoolFalse, tl.TagVector:
			default:
				t.Fatalf("%s: answer tag %08x", fn.Name, tag)
			}
		}
	})
}
