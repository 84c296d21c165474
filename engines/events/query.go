package events

import (
	"bytes"
	"container/heap"
	"fmt"
	"slices"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// effectiveLimit applies the schema's rule for limit:int: <= 0 is
// DefaultLimit, above MaxLimit is refused.
func effectiveLimit(limit int32) (int, error) {
	switch {
	case limit <= 0:
		return DefaultLimit, nil
	case limit > MaxLimit:
		return 0, &rpc.Error{Code: rpc.CodeValueNotInRange, Description: fmt.Sprintf("events: limit %d above %d", limit, MaxLimit)}
	}
	return int(limit), nil
}

// scan calls f for every event, one stripe's read lock at a time, until f
// returns false. f must not keep anything but the *event.
func (s *Store) scan(f func(e *event) bool) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		for _, evs := range sh.m {
			for _, e := range evs {
				if !f(e) {
					sh.mu.RUnlock()
					return
				}
			}
		}
		sh.mu.RUnlock()
	}
}

// matches reports whether e's text contains query.
func matches(e *event, query []byte) bool { return bytes.Contains(e.text, query) }

// list returns up to limit events under key, oldest first.
func (s *Store) list(key []byte, limit int) []*event {
	sh := s.shard(key)
	sh.mu.RLock()
	evs := sh.m[string(key)]
	// A copy of the pointers: the slice itself changes under later adds.
	out := slices.Clone(evs[:min(limit, len(evs))])
	sh.mu.RUnlock()
	return out
}

// best returns the limit events that come first in the order cmp
// (matching query when match is set), sorted by cmp.
func (s *Store) best(limit int, cmp func(a, b *event) int, query []byte, match bool) []*event {
	t := topK{k: limit, cmp: cmp}
	s.scan(func(e *event) bool {
		if !match || matches(e, query) {
			t.offer(e)
		}
		return true
	})
	slices.SortFunc(t.h, cmp)
	return t.h
}

// newer is the order of search: ts descending, then id descending.
func newer(a, b *event) int { return older(b, a) }

// topK keeps the k first events in the order cmp seen so far: a heap whose
// root is the last of those kept, so a better event replaces it in
// O(log k) and memory stays at k pointers however many events are seen.
type topK struct {
	k   int
	cmp func(a, b *event) int
	h   []*event
}

func (t *topK) offer(e *event) {
	switch {
	case len(t.h) < t.k:
		heap.Push(t, e)
	case t.k > 0 && t.cmp(e, t.h[0]) < 0:
		t.h[0] = e
		heap.Fix(t, 0)
	}
}

func (t *topK) Len() int           { return len(t.h) }
func (t *topK) Less(i, j int) bool { return t.cmp(t.h[i], t.h[j]) > 0 } // the worst kept on top
func (t *topK) Swap(i, j int)      { t.h[i], t.h[j] = t.h[j], t.h[i] }
func (t *topK) Push(x any)         { t.h = append(t.h, x.(*event)) }
func (t *topK) Pop() any {
	x := t.h[len(t.h)-1]
	t.h = t.h[:len(t.h)-1]
	return x
}

var _ heap.Interface = (*topK)(nil)

// aggregate is what count, textBytes, minTs, maxTs, has, allMatch and
// firstMatch answer, from one pass.
type aggregate struct {
	count    int64
	bytes    int64
	minTs    int64
	maxTs    int64
	allMatch bool
	first    *event // oldest match
}

// stopAt says when a scan may end early: has needs one match, allMatch
// one miss; the others need every event.
type stopAt uint8

const (
	stopNever stopAt = iota
	stopOnMatch
	stopOnMiss
)

// aggregate scans the events for query.
func (s *Store) aggregate(query []byte, stop stopAt) aggregate {
	a := aggregate{minTs: NoMinTs, maxTs: NoMaxTs, allMatch: true}
	s.scan(func(e *event) bool {
		if !matches(e, query) {
			a.allMatch = false
			return stop != stopOnMiss
		}
		a.count++
		a.bytes += int64(len(e.text))
		a.minTs = min(a.minTs, e.ts)
		a.maxTs = max(a.maxTs, e.ts)
		if a.first == nil || older(e, a.first) < 0 {
			a.first = e
		}
		return stop != stopOnMatch
	})
	return a
}
