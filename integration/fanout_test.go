package integration

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"testing"

	"github.com/rpcproxy/rpcproxy/engines/events"
	"github.com/rpcproxy/rpcproxy/engines/memcache"
	"github.com/rpcproxy/rpcproxy/tl"
)

// getMultiRule is configs/production.toml's split rule for getMulti.
const getMultiRule = `
[[cluster.function]]
name = "memcache.getMulti"
key = "keys"
on_error = "partial"
missing = "memcache.not_found"
`

func mcGetMulti(keys ...string) []byte {
	b := tl.AppendUint32(nil, memcache.TagGetMulti)
	b = tl.AppendUint32(b, uint32(len(keys)))
	for _, k := range keys {
		b = tl.AppendString(b, k)
	}
	return b
}

// parseValues reads a Vector memcache.Value answer as strings, "-" for
// not_found.
func parseValues(b []byte) ([]string, error) {
	r, err := tl.ExpectTag(b, tl.TagVector)
	if err != nil {
		return nil, err
	}
	n, r, err := tl.ReadCount(r, 4)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, n)
	for range n {
		var tag uint32
		if tag, r, err = tl.ReadUint32(r); err != nil {
			return nil, err
		}
		switch tag {
		case memcache.TagNotFound:
			out = append(out, "-")
		case memcache.TagStrValue:
			var v string
			if v, r, err = tl.ReadString(r); err != nil {
				return nil, err
			}
			if _, r, err = tl.ReadInt32(r); err != nil {
				return nil, err
			}
			out = append(out, v)
		default:
			return nil, fmt.Errorf("unexpected memcache.Value tag %08x in %x", tag, b)
		}
	}
	if len(r) != 0 {
		return nil, fmt.Errorf("%d bytes after the vector", len(r))
	}
	return out, nil
}

// callExtra is call that also returns failed_subqueries from the result
// extra (-1 when the extra does not carry it).
func (a *app) callExtra(addr string, body []byte, o callOpts) ([]byte, int32, error) {
	ctx, cancel := context.WithTimeout(context.Background(), callWait)
	defer cancel()
	req := a.cl.GetRequest()
	req.Body = append(req.Body[:0], body...)
	req.ActorID = o.actor
	req.Extra.SetReturnFailedSubqueries(true)
	if o.timeoutMs > 0 {
		req.Extra.SetCustomTimeoutMs(o.timeoutMs)
		req.DoNotCreateLocalCancellationContext = true
	}
	resp, err := a.cl.Do(ctx, "tcp4", addr, req)
	if err != nil {
		return nil, 0, err
	}
	defer a.cl.PutResponse(resp)
	failed := int32(-1)
	if resp.Extra.IsSetFailedSubqueries() {
		failed = resp.Extra.FailedSubqueries
	}
	return slices.Clone(resp.Body), failed, nil
}

// TestGetMultiOneShardDown: a getMulti across the 4 shards is split and
// answered in the order of its keys; with one engine killed the others
// still answer, and the dead shard's keys are memcache.not_found, with
// failed_subqueries = 1 (on_error = "partial").
func TestGetMultiOneShardDown(t *testing.T) {
	mc := startEngines(t, "memcache", 4)
	p := startProxy(t, newConfig(t, cluster{name: "mc", functions: []string{"memcache.*"}, engines: mc,
		timeout: "300ms", extra: faultHealth + getMultiRule}))
	a := newApp(t)
	per := keyPerShard(t, p, "mc", len(mc))
	// Keys in an order that interleaves the shards, plus a missing key.
	keys := []string{per[3], per[0], "absent", per[2], per[1]}
	want := []string{"v:" + per[3], "v:" + per[0], "-", "v:" + per[2], "v:" + per[1]}
	for _, k := range per {
		a.set(t, p.addr, k, "v:"+k, callOpts{})
	}
	got, _, err := a.callExtra(p.addr, mcGetMulti(keys...), callOpts{})
	vals, perr := parseValues(got)
	if err != nil || perr != nil || !slices.Equal(vals, want) {
		t.Fatalf("getMulti %q, all up: %q (%v, %v), want %q", keys, vals, err, perr, want)
	}

	const dead = 2
	mc[dead].signal(syscall.SIGKILL)
	<-mc[dead].done
	waitFor(t, "NO_CONNECTIONS for the killed shard", func() bool {
		_, _, err := a.get(p.addr, per[dead], callOpts{timeoutMs: faultTimeoutMs})
		return codeOf(err) == codeNoConnections
	})
	want[3] = "-" // per[2]
	for i := range 5 {
		got, failed, err := a.callExtra(p.addr, mcGetMulti(keys...), callOpts{timeoutMs: faultTimeoutMs})
		vals, perr := parseValues(got)
		if err != nil || perr != nil || !slices.Equal(vals, want) {
			t.Fatalf("getMulti %d with shard %d down: %q (%v, %v), want %q", i, dead, vals, err, perr, want)
		}
		if failed != 1 {
			t.Fatalf("getMulti %d with shard %d down: failed_subqueries %d, want 1", i, dead, failed)
		}
	}
}

// TestMergedSearch: events.search is sent to every events shard and the
// answers merged newest first, cut at the request's limit; events.count is
// summed.
func TestMergedSearch(t *testing.T) {
	ev := startEngines(t, "events", 4)
	c := newConfig(t, cluster{name: "ev", functions: []string{"events.*"}, engines: ev, extra: `
[[cluster.function]]
name = "events.search"
merge = "sorted"
sort_field = "ts"
descending = true
limit_arg = "limit"

[[cluster.function]]
name = "events.count"
merge = "sum"
`})
	c.schemas = []string{schemaPath(t, "events")}
	p := startProxy(t, c)
	a := newApp(t)
	var ts []int64
	shards := map[int]bool{}
	for i := range 12 {
		key := fmt.Sprintf("user:%d", i)
		t0 := int64(1000 + 7*((i*5)%12)) // distinct, not in key order
		add := tl.AppendString(tl.AppendUint32(nil, events.TagAdd), key)
		add = tl.AppendString(tl.AppendInt64(add, t0), "login")
		if _, err := a.call(p.addr, add, callOpts{}); err != nil {
			t.Fatalf("events.add %s: %v", key, err)
		}
		ts = append(ts, t0)
		shards[p.shardOf(t, "ev", key, false)] = true
	}
	if len(shards) < 2 {
		t.Fatalf("12 keys on shards %v: the merge would not be tested", shards)
	}
	slices.Sort(ts)
	slices.Reverse(ts)

	search := tl.AppendInt32(tl.AppendString(tl.AppendUint32(nil, events.TagSearch), "log"), 5)
	got, err := a.call(p.addr, search, callOpts{})
	if err != nil {
		t.Fatalf("events.search: %v", err)
	}
	gotTs, err := eventTimes(got)
	if err != nil || !slices.Equal(gotTs, ts[:5]) {
		t.Fatalf("events.search limit 5: ts %v (%v), want %v", gotTs, err, ts[:5])
	}
	count := tl.AppendString(tl.AppendUint32(nil, events.TagCount), "login")
	got, err = a.call(p.addr, count, callOpts{})
	if want := tl.AppendInt32(tl.AppendUint32(nil, tl.TagInt), 12); err != nil || !slices.Equal(got, want) {
		t.Fatalf("events.count: %x %v, want %x (the sum over shards)", got, err, want)
	}
}

// eventTimes reads the ts of every event of a Vector events.Event answer.
func eventTimes(b []byte) ([]int64, error) {
	evs, err := events.ReadAnswer(b)
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.TS
	}
	return out, nil
}

// TestCoalescedGetMultiUnderLoad: 16 VK clients, each on its own
// connection, run getMultis of 10 keys over 4 engine processes with
// coalesce = true. Every answer holds exactly the values of its own keys,
// in order, while the proxy joins sub-requests of different connections
// into shared engine calls (the engines get fewer calls than
// sub-requests were made).
func TestCoalescedGetMultiUnderLoad(t *testing.T) {
	mc := startEngines(t, "memcache", 4)
	p := startProxy(t, newConfig(t, cluster{name: "mc", functions: []string{"memcache.*"}, engines: mc,
		extra: getMultiRule + "coalesce = true\n"}))
	seed := newApp(t)
	var keys []string
	for i := range 200 {
		k := fmt.Sprintf("co:%d", i)
		keys = append(keys, k)
		seed.set(t, p.addr, k, "v:"+k, callOpts{})
	}
	const workers, each = 16, 300
	var wg sync.WaitGroup
	errs := make(chan string, workers)
	apps := make([]*app, workers) // a client, and so a connection, each
	for w := range apps {
		apps[w] = newApp(t)
	}
	for w, a := range apps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				ks := make([]string, 10)
				want := make([]string, 10)
				for j := range ks {
					k := keys[(w*31+i*7+j*13)%len(keys)]
					if j == 3 {
						k = fmt.Sprintf("absent:%d:%d", w, i)
					}
					ks[j] = k
					want[j] = "v:" + k
					if j == 3 {
						want[j] = "-"
					}
				}
				got, err := a.call(p.addr, mcGetMulti(ks...), callOpts{})
				vals, perr := parseValues(got)
				if err != nil || perr != nil || !slices.Equal(vals, want) {
					errs <- fmt.Sprintf("worker %d getMulti %d %q: %q (%v, %v), want %q", w, i, ks, vals, err, perr, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	st := p.stats(t).Clusters[0]
	var calls uint64
	for _, s := range st.Shards {
		calls += s.Engines[0].Requests
	}
	t.Logf("%d getMultis: %d sub-requests, %d of them joined; the engines served %d calls (sets included)",
		st.Fanouts, st.SubSent, st.Coalesced, calls)
	if st.Coalesced == 0 {
		t.Error("no sub-request was joined with another under 16 concurrent connections")
	}
}
