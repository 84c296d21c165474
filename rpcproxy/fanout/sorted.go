package fanout

import (
	"bytes"
	"encoding/binary"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// cursor is one shard's position in a sorted merge: its element iterator
// (scratch.its[shard]) and the current element's sort key.
type cursor struct {
	shard int
	body  []byte
	num   int64
	str   []byte
}

// sorted is a k-way merge of vectors each sorted by rule.SortField (vitess'
// merge_sort.go): a heap holds one cursor per shard with elements left, the
// least (or, descending, greatest) key on top; ties go to the lower shard,
// so the order is total and each shard's own order is kept. It stops at
// the request's limit. Elements are copied as they came.
func (f *Fanout) sorted(dst []byte, rule *Rule, call []byte, answers []Answer) ([]byte, int, *rpc.Error) {
	limit := -1
	if rule.LimitArg != "" {
		s, _, err := f.w.Arg(call, rule.LimitArg)
		if err != nil {
			return dst, 0, &rpc.Error{Code: rpc.CodeSyntax, Description: "rpcproxy: " + rule.Function + ": " + err.Error()}
		}
		if rule.limitBoxed {
			s += 4
		}
		limit = int(int32(binary.LittleEndian.Uint32(call[s:])))
		if limit <= 0 {
			limit = rule.DefaultLimit
		}
	}
	sc := f.getScratch(len(answers))
	defer f.putScratch(sc)
	first := -1
	for s := range answers {
		a := &answers[s]
		if a.Status != OK {
			continue
		}
		it, err := f.w.ResultElemsInto(call, a.Body, &sc.ends[s])
		if err != nil || it.CountPos() < 0 {
			it.Close()
			fail(answers, s, invalid(s, "%s: %v", rule.Function, err))
			continue
		}
		sc.its[s], sc.open[s] = it, true
		if first < 0 {
			first = s
		}
	}
	failed, gerr := gate(rule.Partial, answers)
	if gerr != nil {
		return dst, failed, gerr
	}
	for s := range answers {
		if !sc.open[s] || answers[s].Status != OK {
			continue
		}
		c := &sc.curs[s]
		c.shard, c.body = s, answers[s].Body
		ok, err := f.advance(rule, sc, c)
		if err != nil {
			return dst, failed, err
		}
		if ok {
			sc.push(rule, s)
		}
	}
	fa := answers[first].Body
	dst = append(dst, fa[:sc.its[first].CountPos()]...)
	countAt := len(dst)
	dst = tl.AppendUint32(dst, 0)
	n := 0
	for len(sc.heap) > 0 && n != limit {
		s := sc.heap[0]
		dst = append(dst, sc.its[s].Bytes()...)
		n++
		ok, err := f.advance(rule, sc, &sc.curs[s])
		if err != nil {
			return dst, failed, err
		}
		if ok {
			sc.fix(rule, 0)
		} else {
			sc.pop(rule)
		}
	}
	binary.LittleEndian.PutUint32(dst[countAt:], uint32(n))
	return dst, failed, nil
}

// advance moves c to its shard's next element and reads its sort key.
func (f *Fanout) advance(rule *Rule, sc *scratch, c *cursor) (bool, *rpc.Error) {
	it := &sc.its[c.shard]
	if !it.Next() {
		if err := it.Err(); err != nil {
			return false, invalid(c.shard, "%s: %v", rule.Function, err)
		}
		return false, nil
	}
	var b []byte
	if rule.sortAt >= 0 {
		// The element was validated: the fixed-size fields are there.
		b = it.Bytes()[rule.sortAt:]
	} else {
		s, e, err := it.Field(rule.SortField)
		if err != nil {
			return false, invalid(c.shard, "%s: sort field: %v", rule.Function, err)
		}
		b = c.body[s:e]
	}
	if rule.sortBoxed {
		b = b[4:]
	}
	switch rule.sortPrim {
	case schema.PrimInt:
		c.num = int64(int32(binary.LittleEndian.Uint32(b)))
	case schema.PrimLong:
		c.num = int64(binary.LittleEndian.Uint64(b))
	default:
		var err error
		if c.str, _, err = tl.ReadBytes(b); err != nil {
			return false, invalid(c.shard, "%s: sort field: %v", rule.Function, err)
		}
	}
	return true, nil
}

// before reports whether shard a's current element goes before shard b's.
func (sc *scratch) before(rule *Rule, a, b int) bool {
	ca, cb := &sc.curs[a], &sc.curs[b]
	c := 0
	if rule.sortPrim == schema.PrimInt || rule.sortPrim == schema.PrimLong {
		switch {
		case ca.num < cb.num:
			c = -1
		case ca.num > cb.num:
			c = 1
		}
	} else {
		c = bytes.Compare(ca.str, cb.str)
	}
	if rule.Descending {
		c = -c
	}
	if c != 0 {
		return c < 0
	}
	return a < b
}

func (sc *scratch) push(rule *Rule, s int) {
	sc.heap = append(sc.heap, s)
	for i := len(sc.heap) - 1; i > 0; {
		p := (i - 1) / 2
		if !sc.before(rule, sc.heap[i], sc.heap[p]) {
			break
		}
		sc.heap[i], sc.heap[p] = sc.heap[p], sc.heap[i]
		i = p
	}
}

func (sc *scratch) pop(rule *Rule) {
	n := len(sc.heap) - 1
	sc.heap[0] = sc.heap[n]
	sc.heap = sc.heap[:n]
	if n > 0 {
		sc.fix(rule, 0)
	}
}

// fix sifts heap entry i down after its key changed (keys only move away
// from the top: each shard's elements are sorted).
func (sc *scratch) fix(rule *Rule, i int) {
	h := sc.heap
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && sc.before(rule, h[r], h[l]) {
			m = r
		}
		if !sc.before(rule, h[m], h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
