package fanout

import (
	"bytes"
	"encoding/binary"
	"math"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/walk"
)

// scratch is the per-merge space: one element iterator per shard and the
// sorted merge's cursors and heap. Pooled by Fanout.
type scratch struct {
	its  []walk.Elems
	open []bool
	curs []cursor
	heap []int
	// ends[s] is where shard s's elements end (walk.ResultElemsInto).
	ends [][]int32
}

func (f *Fanout) getScratch(n int) *scratch {
	sc := f.scratch.Get().(*scratch)
	if cap(sc.its) < n {
		sc.its = make([]walk.Elems, n)
		sc.open = make([]bool, n)
		sc.curs = make([]cursor, n)
		sc.heap = make([]int, 0, n)
		ends := make([][]int32, n)
		copy(ends, sc.ends)
		sc.ends = ends
	}
	sc.its, sc.open, sc.curs, sc.heap, sc.ends = sc.its[:n], sc.open[:n], sc.curs[:n], sc.heap[:0], sc.ends[:n]
	return sc
}

func (f *Fanout) putScratch(sc *scratch) {
	for i := range sc.its {
		if sc.open[i] {
			sc.its[i].Close()
		}
		sc.its[i], sc.open[i], sc.curs[i] = walk.Elems{}, false, cursor{}
	}
	f.scratch.Put(sc)
}

// Merge appends to dst the merged answer of a KindMerge rule: answers[s]
// is shard s's answer to call (every shard gets call itself). Answers
// that are malformed for the strategy are turned into failures
// (PROXY_INVALID_RESPONSE) in answers. failed is the number of failed
// shards; err is the request's error when the policy says so.
func (f *Fanout) Merge(dst []byte, rule *Rule, call []byte, answers []Answer) (out []byte, failed int, err *rpc.Error) {
	switch rule.Strategy {
	case Concat:
		return f.concat(dst, rule.Partial, nil, call, answers)
	case Sum, Min, Max, And, Or:
		return f.fold(dst, rule, call, answers)
	case Sorted:
		return f.sorted(dst, rule, call, answers)
	case First:
		return f.first(dst, rule, call, answers)
	}
	return dst, 0, &rpc.Error{Code: rpc.CodeInternal, Description: "rpcproxy: " + rule.Function + ": no merge strategy"}
}

// concat joins the elements of every answered shard in shard order, summing
// the counts. The bytes before the count (boxing tags) and after the
// elements must be the same in every answer, else the answer differing
// from the first is malformed. calls[s], when set, is the call shard s
// answered (a split's sub-call); otherwise every shard answered call.
func (f *Fanout) concat(dst []byte, partial bool, calls [][]byte, call []byte, answers []Answer) ([]byte, int, *rpc.Error) {
	sc := f.getScratch(len(answers))
	defer f.putScratch(sc)
	first, total := -1, 0
	for s := range answers {
		a := &answers[s]
		if a.Status != OK {
			continue
		}
		c := call
		if calls != nil {
			c = calls[s]
		}
		it, err := f.w.ResultElemsInto(c, a.Body, &sc.ends[s])
		if err != nil || it.CountPos() < 0 {
			it.Close()
			fail(answers, s, invalid(s, "cannot concat the answer: %v", err))
			continue
		}
		// Walk to the end to learn where the elements stop; a shape the
		// first answer does not share cannot be joined.
		for it.Next() {
		}
		if it.Err() != nil {
			fail(answers, s, invalid(s, "%v", it.Err()))
			continue
		}
		sc.its[s], sc.open[s] = it, true
		if first >= 0 {
			fa, fi := answers[first].Body, &sc.its[first]
			if !bytes.Equal(fa[:fi.CountPos()], a.Body[:it.CountPos()]) || !bytes.Equal(fa[fi.End():], a.Body[it.End():]) {
				sc.open[s] = false
				fail(answers, s, invalid(s, "answer shape differs from shard %d's: cannot concat", first))
				continue
			}
		} else {
			first = s
		}
		total += it.Len()
	}
	failed, err := gate(partial, answers)
	if err != nil {
		return dst, failed, err
	}
	fa, fi := answers[first].Body, &sc.its[first]
	dst = append(dst, fa[:fi.CountPos()]...)
	dst = tl.AppendUint32(dst, uint32(total))
	for s := range answers {
		if !sc.open[s] || answers[s].Status != OK {
			continue
		}
		it := &sc.its[s]
		dst = append(dst, answers[s].Body[it.CountPos()+4:it.End()]...)
	}
	return append(dst, fa[fi.End():]...), failed, nil
}

// fold merges scalar answers: sum, min, max of Int or Long; and, or of
// Bool. The first answer's boxing is kept.
func (f *Fanout) fold(dst []byte, rule *Rule, call []byte, answers []Answer) ([]byte, int, *rpc.Error) {
	var acc walk.Value
	first := -1
	for s := range answers {
		a := &answers[s]
		if a.Status != OK {
			continue
		}
		v, err := f.w.ResultValue(call, a.Body)
		want := walk.KindBool
		if rule.Strategy != And && rule.Strategy != Or {
			want = walk.KindInt
			if v.Kind == walk.KindLong {
				want = walk.KindLong
			}
		}
		if err != nil || v.Kind != want || (first >= 0 && v.Kind != acc.Kind) {
			fail(answers, s, invalid(s, "%s: cannot %s the answer %x: %v", rule.Function, rule.Strategy, a.Body, err))
			continue
		}
		if first < 0 {
			first, acc = s, v
			continue
		}
		switch rule.Strategy {
		case Sum:
			acc.Int += v.Int
		case Min:
			acc.Int = min(acc.Int, v.Int)
		case Max:
			acc.Int = max(acc.Int, v.Int)
		case And:
			acc.Int &= v.Int
		case Or:
			acc.Int |= v.Int
		}
	}
	failed, err := gate(rule.Partial, answers)
	if err != nil {
		return dst, failed, err
	}
	fa := answers[first].Body
	switch acc.Kind {
	case walk.KindBool:
		return tl.AppendBool(dst, acc.Int != 0), failed, nil
	case walk.KindInt:
		if acc.Int < math.MinInt32 || acc.Int > math.MaxInt32 {
			return dst, failed, &rpc.Error{Code: rpc.CodeValueNotInRange, Description: "rpcproxy: " + rule.Function + ": the sum of the shards' answers overflows int"}
		}
		dst = append(dst, fa[:acc.End-4]...)
		return tl.AppendInt32(dst, int32(acc.Int)), failed, nil
	}
	dst = append(dst, fa[:acc.End-8]...)
	return tl.AppendInt64(dst, acc.Int), failed, nil
}

// first answers the first answered shard's answer, in shard order, that
// is not empty. Empty is resultFalse (Maybe's Nothing) or a vector with
// no elements. When every answer is empty, the first answer is the answer.
func (f *Fanout) first(dst []byte, rule *Rule, call []byte, answers []Answer) ([]byte, int, *rpc.Error) {
	found, firstOK := -1, -1
	for s := range answers {
		a := &answers[s]
		if a.Status != OK {
			continue
		}
		if err := f.w.CheckResult(call, a.Body); err != nil {
			fail(answers, s, invalid(s, "%s: %v", rule.Function, err))
			continue
		}
		if firstOK < 0 {
			firstOK = s
		}
		if found < 0 && !f.empty(call, a.Body) {
			found = s
		}
	}
	failed, err := gate(rule.Partial, answers)
	if err != nil {
		return dst, failed, err
	}
	if found < 0 {
		found = firstOK
	}
	return append(dst, answers[found].Body...), failed, nil
}

func (f *Fanout) empty(call, resp []byte) bool {
	if len(resp) >= 4 && binary.LittleEndian.Uint32(resp) == tl.TagMaybeFalse {
		return true
	}
	it, err := f.w.ResultElems(call, resp)
	if err != nil {
		return false
	}
	n := it.Len()
	it.Close()
	return n == 0
}

// Diagonal appends to dst the answer of rpcProxy.diagonal {X:Type}
// query:!X = Vector (Maybe X): one element per shard in shard order,
// resultTrue with the shard's answer as it came, or resultFalse for a
// shard that failed (down, timeout, error). failed counts the latter.
func Diagonal(dst []byte, answers []Answer) (out []byte, failed int) {
	dst = tl.AppendUint32(dst, tl.TagVector)
	dst = tl.AppendUint32(dst, uint32(len(answers)))
	for i := range answers {
		if answers[i].Status != OK {
			failed++
			dst = tl.AppendUint32(dst, tl.TagMaybeFalse)
			continue
		}
		dst = tl.AppendUint32(dst, tl.TagMaybeTrue)
		dst = append(dst, answers[i].Body...)
	}
	return dst, failed
}
