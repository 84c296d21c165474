package fanout

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/configs"
	"github.com/rpcproxy/rpcproxy/engines"
	"github.com/rpcproxy/rpcproxy/engines/enginetest"
	"github.com/rpcproxy/rpcproxy/engines/events"
	"github.com/rpcproxy/rpcproxy/engines/memcache"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/schema"
	"github.com/rpcproxy/rpcproxy/tl/walk"
)

var t0 = time.UnixMilli(1_700_000_000_000)

func loadSchema(t testing.TB) *schema.Schema {
	t.Helper()
	sc, err := schema.LoadWithPrelude(filepath.Join("..", "..", "engines", "memcache", "memcache.tl"),
		filepath.Join("..", "..", "engines", "events", "events.tl"))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func newFanout(t testing.TB) (*Fanout, *schema.Schema) {
	t.Helper()
	sc := loadSchema(t)
	return New(walk.New(sc)), sc
}

// compile compiles a rule for function name, failing the test on error.
func compile(t testing.TB, sc *schema.Schema, r configs.FunctionRule, splitArg string) *Rule {
	t.Helper()
	fn := sc.Function(r.Name)
	if fn == nil {
		t.Fatalf("no function %s", r.Name)
	}
	if r.OnError == "" {
		r.OnError = configs.OnErrorFail
	}
	if r.Merge == configs.MergeSorted && r.DefaultLimit == 0 {
		r.DefaultLimit = configs.DefaultMergeLimit
	}
	rule, err := Compile(fn, r, splitArg)
	if err != nil {
		t.Fatal(err)
	}
	return rule
}

// tablePlacer places keys by a table, so a test reads which shard owns
// which key (groupcache's readable fake hash); unknown keys go by length.
type tablePlacer struct {
	n     int
	table map[string]int
}

func (p tablePlacer) Pick(key []byte) (int, error) {
	if s, ok := p.table[string(key)]; ok {
		return s, nil
	}
	return len(key) % p.n, nil
}

func (p tablePlacer) PickInt(key int64) int { return int(uint64(key) % uint64(p.n)) }

var _ Placer = tablePlacer{}

// engine is one fake shard: the functions of a real in-memory engine, and
// a fault: down (the proxy fails it at once) or an error answer.
type engine struct {
	funcs []engines.Func
	down  bool
	err   *rpc.Error
}

// cluster is a fake upstream: it runs each sub-call on its shard's engine
// and logs every sub-request (shard, function, keys or arguments), so a
// test compares the whole fan-out plan.
type cluster struct {
	t      testing.TB
	w      *walk.Walker
	shards []*engine
	log    []string
}

func (c *cluster) describe(call []byte) string {
	fn, err := c.w.Function(call)
	if err != nil {
		return fmt.Sprintf("%x", call)
	}
	if fn.Name == "memcache.getMulti" {
		it, err := c.w.ArgElems(call, "keys")
		if err != nil {
			c.t.Fatal(err)
		}
		var keys []string
		for it.Next() {
			keys = append(keys, string(it.Str()))
		}
		return fn.Name + " [" + strings.Join(keys, " ") + "]"
	}
	return fn.Name
}

// answer runs call on shard s and returns the outcome, logging it.
func (c *cluster) answer(s int, call []byte) Answer {
	e := c.shards[s]
	c.log = append(c.log, fmt.Sprintf("shard %d: %s", s, c.describe(call)))
	switch {
	case e.down:
		return Answer{Status: Failed, Err: &rpc.Error{Code: rpc.CodeNoConnections, Description: fmt.Sprintf("engine %d is down", s)}}
	case e.err != nil:
		return Answer{Status: Failed, Err: e.err}
	}
	body, err := run(e.funcs, call)
	if err != nil {
		var re *rpc.Error
		if !errors.As(err, &re) {
			re = &rpc.Error{Code: rpc.CodeSyntax, Description: err.Error()}
		}
		return Answer{Status: Failed, Err: re}
	}
	return Answer{Status: OK, Body: body}
}

func run(funcs []engines.Func, call []byte) ([]byte, error) {
	tag, args, err := tl.ReadUint32(call)
	if err != nil {
		return nil, err
	}
	for _, f := range funcs {
		if f.Tag == tag {
			return f.Call(args, nil)
		}
	}
	return nil, fmt.Errorf("no function %08x", tag)
}

// split runs a split through the fake cluster.
func (c *cluster) split(f *Fanout, rule *Rule, call []byte, pl Placer) ([]byte, int, *rpc.Error) {
	c.t.Helper()
	p, err := f.Split(rule, call, pl, len(c.shards))
	if err != nil {
		c.t.Fatal(err)
	}
	defer f.Release(p)
	for s := range c.shards {
		if p.Asked(s) {
			p.Answers[s] = c.answer(s, p.Subs[s])
		}
	}
	return f.MergeSplit(nil, rule, p)
}

// merge runs a merge query through the fake cluster.
func (c *cluster) merge(f *Fanout, rule *Rule, call []byte) ([]byte, int, *rpc.Error) {
	answers := make([]Answer, len(c.shards))
	for s := range c.shards {
		answers[s] = c.answer(s, call)
	}
	return f.Merge(nil, rule, call, answers)
}

func memcacheShards(t testing.TB, n int) ([]*engine, []*memcache.Store) {
	t.Helper()
	var es []*engine
	var ss []*memcache.Store
	for range n {
		s, err := memcache.New(memcache.Config{Clock: enginetest.NewClock(t0)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		es = append(es, &engine{funcs: s.Funcs()})
		ss = append(ss, s)
	}
	return es, ss
}

func eventsStore(t testing.TB) *events.Store {
	t.Helper()
	s, err := events.New(events.Config{Clock: enginetest.NewClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustRun(t testing.TB, funcs []engines.Func, call []byte) []byte {
	t.Helper()
	out, err := run(funcs, call)
	if err != nil {
		t.Fatalf("%x: %v", call, err)
	}
	return out
}

// Calls, built with tl primitives.

func getMulti(keys ...string) []byte {
	b := tl.AppendUint32(tl.AppendUint32(nil, memcache.TagGetMulti), uint32(len(keys)))
	for _, k := range keys {
		b = tl.AppendString(b, k)
	}
	return b
}

func set(key, value string) []byte {
	b := tl.AppendString(tl.AppendUint32(nil, memcache.TagSet), key)
	b = tl.AppendInt32(tl.AppendInt32(b, 0), 0) // flags, delay
	return tl.AppendString(b, value)
}

func strValue(v string) []byte {
	return tl.AppendInt32(tl.AppendString(tl.AppendUint32(nil, memcache.TagStrValue), v), 0)
}

func notFound() []byte { return tl.AppendUint32(nil, memcache.TagNotFound) }

func vector(els ...[]byte) []byte {
	b := tl.AppendUint32(tl.AppendUint32(nil, tl.TagVector), uint32(len(els)))
	for _, e := range els {
		b = append(b, e...)
	}
	return b
}

func eventsAdd(key string, ts int64, text string) []byte {
	b := tl.AppendString(tl.AppendUint32(nil, events.TagAdd), key)
	return tl.AppendString(tl.AppendInt64(b, ts), text)
}

func queryCall(tag uint32, query string) []byte {
	return tl.AppendString(tl.AppendUint32(nil, tag), query)
}

func search(query string, limit int32) []byte {
	return tl.AppendInt32(queryCall(events.TagSearch, query), limit)
}

func listAll(limit int32) []byte {
	return tl.AppendInt32(tl.AppendUint32(nil, events.TagListAll), limit)
}
