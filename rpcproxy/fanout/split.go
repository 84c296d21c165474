package fanout

import (
	"fmt"
	"sync"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/walk"
)

// Placer maps a key to its shard; sharding.Picker implements it.
type Placer interface {
	Pick(key []byte) (int, error)
	PickInt(key int64) int
}

// Fanout splits calls and merges answers for one schema. It is safe for
// concurrent use; its plans and scratch space are pooled, so the split and
// merge paths do not allocate in steady state.
type Fanout struct {
	w       *walk.Walker
	plans   sync.Pool
	scratch sync.Pool
}

// New returns a Fanout over the schema of w.
func New(w *walk.Walker) *Fanout {
	f := &Fanout{w: w}
	f.plans.New = func() any { return &Plan{} }
	f.scratch.New = func() any { return &scratch{} }
	return f
}

// Walker returns the schema walker the Fanout uses.
func (f *Fanout) Walker() *walk.Walker { return f.w }

// Plan is one split request: which shard each key goes to and the
// sub-call of every shard. Shards with no keys get no sub-call (Keys[s] ==
// 0) and are not asked. Get it from Split, give it back with Release.
type Plan struct {
	// ShardOf[i] is the shard of the call's key i.
	ShardOf []int
	// Keys[s] is how many keys shard s gets.
	Keys []int
	// Subs[s] is shard s's sub-call: the call with only its keys.
	Subs [][]byte
	// Answers[s] is filled by the caller with shard s's outcome.
	Answers []Answer
	// ranges[i] is key i's byte range in the call.
	ranges []keyRange
	// head and tail, when the sub-calls were cut from the key ranges
	// (cut), are the lengths of the call's bytes before the key count and
	// after the keys, which every sub-call shares; head is -1 otherwise.
	head, tail int
}

type keyRange struct{ start, end int }

// Status is one shard's outcome in a fan-out.
type Status uint8

const (
	// Idle: the shard was not asked (a split shard with no keys).
	Idle Status = iota
	// OK: the shard answered; Body is its boxed result.
	OK
	// Failed: the shard was down, timed out or answered an error.
	Failed
)

// Answer is one shard's outcome. The caller owns Body's memory; merges
// only read it, and copy what they keep.
type Answer struct {
	Status Status
	Body   []byte
	Err    *rpc.Error
	// Cut, when set, is Body's layout for walk.KnownElems (the count
	// word's offset, then where each element ends): Body is a part of a
	// joined answer that CutAnswer validated, and MergeSplit does not
	// walk it again.
	Cut []int32
}

// reset sizes p for n shards, keeping its buffers.
func (p *Plan) reset(n int) {
	p.head, p.tail = -1, 0
	p.ShardOf = p.ShardOf[:0]
	p.ranges = p.ranges[:0]
	if cap(p.Keys) < n {
		p.Keys = make([]int, n)
		p.Answers = make([]Answer, n)
		subs := make([][]byte, n)
		copy(subs, p.Subs)
		p.Subs = subs
	}
	p.Keys, p.Subs, p.Answers = p.Keys[:n], p.Subs[:n], p.Answers[:n]
	for s := range n {
		p.Keys[s] = 0
		p.Subs[s] = p.Subs[s][:0]
		p.Answers[s] = Answer{}
	}
}

// Release gives p back to f's pool; p and its sub-calls must not be used
// afterwards.
func (f *Fanout) Release(p *Plan) {
	for s := range p.Answers {
		p.Answers[s] = Answer{}
	}
	f.plans.Put(p)
}

// Split plans a split of call by rule (KindSplit) over n shards: every key
// of the rule's vector argument is placed by pl, and each shard's
// sub-call keeps only its keys, as byte ranges of call (walk.SplitBy),
// in their original order. A call with no keys goes whole to shard 0, so
// that the answer (an empty vector) still comes from an engine.
func (f *Fanout) Split(rule *Rule, call []byte, pl Placer, n int) (*Plan, error) {
	p := f.plans.Get().(*Plan)
	p.reset(n)
	it, err := f.w.ArgElems(call, rule.Arg)
	if err != nil {
		f.Release(p)
		return nil, err
	}
	for it.Next() {
		v, ok := it.Value()
		var s int
		switch {
		case !ok:
			it.Close()
			f.Release(p)
			return nil, fmt.Errorf("fanout: %s.%s: elements are not int, long or string keys", rule.Function, rule.Arg)
		case v.Kind == walk.KindString:
			if s, err = pl.Pick(v.Bytes); err != nil {
				it.Close()
				f.Release(p)
				return nil, err
			}
		default:
			s = pl.PickInt(v.Int)
		}
		p.ShardOf = append(p.ShardOf, s)
		p.Keys[s]++
		start, end := it.Range()
		p.ranges = append(p.ranges, keyRange{start, end})
	}
	if err := it.Err(); err != nil {
		f.Release(p)
		return nil, err
	}
	if rule.direct && it.CountPos() >= 0 {
		p.cut(call, it.CountPos(), it.End())
	} else if err := f.w.SplitBy(p.Subs, call, rule.Arg, p.ShardOf); err != nil {
		f.Release(p)
		return nil, err
	}
	if len(p.ShardOf) == 0 && n > 0 {
		p.Keys[0] = -1 // asked, with no keys
	}
	return p, nil
}

// cut builds every shard's sub-call from the key ranges Split recorded,
// as walk.SplitBy does for a vector argument (the call, validated by
// ArgElems, is not walked again): the bytes before the count word at
// countPos, the shard's count, its keys' bytes in order (runs of adjacent
// keys copied at once), and the bytes after the vector, which ends at end.
func (p *Plan) cut(call []byte, countPos, end int) {
	p.head, p.tail = countPos, len(call)-end
	for s := range p.Subs {
		p.Subs[s] = tl.AppendUint32(append(p.Subs[s], call[:countPos]...), uint32(p.Keys[s]))
	}
	run, runStart, runEnd := -1, 0, 0
	for i, r := range p.ranges {
		if s := p.ShardOf[i]; s != run || r.start != runEnd {
			if run >= 0 {
				p.Subs[run] = append(p.Subs[run], call[runStart:runEnd]...)
			}
			run, runStart = s, r.start
		}
		runEnd = r.end
	}
	if run >= 0 {
		p.Subs[run] = append(p.Subs[run], call[runStart:runEnd]...)
	}
	for s := range p.Subs {
		p.Subs[s] = append(p.Subs[s], call[end:]...)
	}
}

// Layout returns shard s's sub-call in three parts: the bytes before the
// key count, the keys, and the bytes after them. Sub-calls of the same
// function with equal head and tail (the same other arguments) can be
// joined into one call: head, the sum of their counts, their keys one
// after the other, tail (package doc: coalescing). ok is false when the
// plan was not cut from key ranges (the function has more fields than the
// walker splits directly).
func (p *Plan) Layout(s int) (head, keys, tail []byte, ok bool) {
	if p.head < 0 || p.Keys[s] <= 0 {
		return nil, nil, nil, false
	}
	sub := p.Subs[s]
	return sub[:p.head], sub[p.head+4 : len(sub)-p.tail], sub[len(sub)-p.tail:], true
}

// CutAnswer reads the answer to a joined call (call: head, count, the keys
// of several parts, counts[j] keys each, tail) and appends to cuts where
// each part's elements begin and end in answer: part j's are
// answer[cuts[j]:cuts[j+1]]; and to ends where each element ends in
// answer, one per key. head is answer's bytes before its element count,
// tail those after the elements; part j's own answer is head, its count,
// its elements, tail. The answer must be of the function's result type
// and have exactly one element per key.
func (f *Fanout) CutAnswer(rule *Rule, call, answer []byte, counts []int, cuts []int, ends []int32) (outCuts []int, outEnds []int32, head, tail []byte, err error) {
	sc := f.getScratch(1)
	defer f.putScratch(sc)
	it, err := f.w.ResultElemsInto(call, answer, &sc.ends[0])
	if err != nil {
		return cuts, ends, nil, nil, fmt.Errorf("%s: %w", rule.Function, err)
	}
	defer it.Close()
	total := 0
	for _, n := range counts {
		total += n
	}
	if it.CountPos() < 0 || it.Len() != total {
		return cuts, ends, nil, nil, fmt.Errorf("%s: %d elements for %d keys", rule.Function, it.Len(), total)
	}
	pos := it.CountPos() + 4
	cuts = append(cuts, pos)
	for _, n := range counts {
		for range n {
			if !it.Next() {
				return cuts, ends, nil, nil, fmt.Errorf("%s: %v", rule.Function, it.Err())
			}
			_, pos = it.Range()
			ends = append(ends, int32(pos))
		}
		cuts = append(cuts, pos)
	}
	for it.Next() {
	}
	return cuts, ends, answer[:it.CountPos()], answer[it.End():], nil
}

// PartCut appends to dst the layout of part j's own answer (head, its
// count, its elements, tail; see CutAnswer) for walk.KnownElems, from
// what CutAnswer found: the count word at len(head), then where each of
// the part's elements ends. first is the index, among all the elements,
// of the part's first.
func PartCut(dst []int32, head []byte, cuts []int, ends []int32, j, first, n int) []int32 {
	base := int32(len(head) + 4 - cuts[j])
	dst = append(dst, int32(len(head)))
	for _, e := range ends[first : first+n] {
		dst = append(dst, e+base)
	}
	return dst
}

// Asked reports whether shard s gets a sub-call.
func (p *Plan) Asked(s int) bool { return p.Keys[s] != 0 }

// gate applies the partial-failure policy before a merge: with fail, the
// first failed shard's error (by shard order); with partial, that error
// only when no shard answered. failed counts the failed shards.
func gate(partial bool, answers []Answer) (failed int, err *rpc.Error) {
	ok := false
	for i := range answers {
		switch answers[i].Status {
		case Failed:
			if err == nil {
				err = answers[i].Err
			}
			failed++
		case OK:
			ok = true
		}
	}
	if failed == 0 || (partial && ok) {
		return failed, nil
	}
	return failed, err
}

func invalid(shard int, format string, args ...any) *rpc.Error {
	return &rpc.Error{Code: rpc.CodeProxyInvalidResponse, Description: fmt.Sprintf("rpcproxy: shard %d: ", shard) + fmt.Sprintf(format, args...)}
}

// fail marks shard s's answer as failed with err (a malformed answer).
func fail(answers []Answer, s int, err *rpc.Error) {
	answers[s] = Answer{Status: Failed, Err: err}
}

// MergeSplit appends to dst the answer to a split call assembled from
// p.Answers: positional rules answer every key in the call's order (the
// keys of failed shards get rule.Missing in partial mode); dictionary
// rules join the shards' entries. Element bytes are copied as they came.
// A shard whose answer is malformed (not the result type, or not one
// element per key) counts as failed, with PROXY_INVALID_RESPONSE. failed
// is the number of failed shards; err is the request's error when the
// policy says so.
func (f *Fanout) MergeSplit(dst []byte, rule *Rule, p *Plan) (out []byte, failed int, err *rpc.Error) {
	if rule.Dictionary {
		return f.concat(dst, rule.Partial, p.Subs, nil, p.Answers)
	}
	sc := f.getScratch(len(p.Answers))
	defer f.putScratch(sc)
	first := -1
	for s := range p.Answers {
		a := &p.Answers[s]
		if a.Status != OK {
			continue
		}
		var it walk.Elems
		var werr error
		if a.Cut != nil {
			it, werr = walk.KnownElems(a.Body, a.Cut)
		} else {
			it, werr = f.w.ResultElemsInto(p.Subs[s], a.Body, &sc.ends[s])
		}
		switch {
		case werr != nil:
			fail(p.Answers, s, invalid(s, "%s: %v", rule.Function, werr))
			continue
		case it.CountPos() < 0 || it.Len() != max(p.Keys[s], 0):
			it.Close()
			fail(p.Answers, s, invalid(s, "%s: %d elements for %d keys", rule.Function, it.Len(), p.Keys[s]))
			continue
		}
		sc.its[s] = it
		sc.open[s] = true
		if first < 0 {
			first = s
		}
	}
	if failed, err = gate(rule.Partial, p.Answers); err != nil {
		return dst, failed, err
	}
	fa := p.Answers[first].Body
	fi := &sc.its[first]
	dst = append(dst, fa[:fi.CountPos()]...)
	dst = tl.AppendUint32(dst, uint32(len(p.ShardOf)))
	for _, s := range p.ShardOf {
		if !sc.open[s] {
			dst = append(dst, rule.Missing...)
			continue
		}
		it := &sc.its[s]
		if !it.Next() {
			return dst, failed, invalid(s, "%s: %v", rule.Function, it.Err())
		}
		dst = append(dst, it.Bytes()...)
	}
	// Finish first's iterator to find where its vector ends: a wrapper's
	// trailing fields (none for Vector) are copied from it.
	for fi.Next() {
	}
	return append(dst, fa[fi.End():]...), failed, nil
}
