package upstream

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rpcproxy/rpcproxy/rpcproxy/enginetest"
	"github.com/rpcproxy/rpcproxy/rpcproxy/health"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// fakeClock is a settable clock for deadlines and health.
type fakeClock struct{ ns atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// result is what a call ended with.
type result struct {
	body []byte
	err  error
}

// logCall records how it ended on a channel.
type logCall struct {
	done chan result
	qid  atomic.Int64
}

func (c *logCall) Sent(qid int64) { c.qid.Store(qid) }

func newCall() *logCall { return &logCall{done: make(chan result, 1)} }
func (c *logCall) Answer(_ uint32, body []byte, res *rpc.ReqResult, _ *packet.Batch) {
	c.done <- result{body: append([]byte(nil), body...), err: res.Err()}
}
func (c *logCall) Fail(err error) { c.done <- result{err: err} }

func (c *logCall) wait(t *testing.T) result {
	t.Helper()
	select {
	case r := <-c.done:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("call did not end")
		return result{}
	}
}

func settings() health.Settings {
	return health.Settings{ConsecutiveTimeouts: 3, MaxInflight: 100, ProbeInterval: time.Second, ProbeMaxInterval: 4 * time.Second}
}

func startPool(t *testing.T, clk *fakeClock) *Pool {
	t.Helper()
	o := Options{Tick: time.Millisecond, DialTimeout: 2 * time.Second}
	if clk != nil {
		o.Now = clk.Now
	}
	p := NewPool(o)
	t.Cleanup(p.Close)
	return p
}

func waitReady(t *testing.T, e *Engine) {
	t.Helper()
	select {
	case <-e.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("engine never finished its first dial")
	}
}

func call(fn uint32, arg string) []byte {
	return tl.AppendString(tl.AppendUint32(nil, fn), arg)
}

func TestForwardAndAnswer(t *testing.T) {

	eng, err := enginetest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	p := startPool(t, nil)
	e := p.Acquire(eng.Addr, settings(), health.NewGroup(1, 0.5))
	waitReady(t, e)

	body := call(0x12345678, "key")
	var results []*logCall
	for range 3 {
		c := newCall()
		hdr := make([]byte, 8)
		now := time.Now()
		if err := e.Send(c, hdr, body, now, now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if c.qid.Load() == 0 {
			t.Fatal("query id 0")
		}
		results = append(results, c)
	}
	for i, c := range results {
		r := c.wait(t)
		if r.err != nil {
			t.Fatalf("call %d: %v", i, r.err)
		}
		if want := enginetest.Echo(eng.Addr, body); !bytes.Equal(r.body[8:], want) {
			t.Fatalf("call %d answer %x, want %x", i, r.body[8:], want)
		}
	}
	got := eng.Invokes()
	if len(got) != 3 {
		t.Fatalf("engine got %d requests", len(got))
	}
	for _, r := range got {
		if !bytes.Equal(r.Req.Body, body) || r.Req.Extra.Flags != 0 {
			t.Fatalf("engine got %x", r.Raw)
		}
	}
}

func TestConnectErrorFailsFast(t *testing.T) {

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	var mu sync.Mutex
	var changes []health.Change
	p := NewPool(Options{OnChange: func(_ *Engine, c health.Change, _ error) {
		mu.Lock()
		changes = append(changes, c)
		mu.Unlock()
	}})
	defer p.Close()
	e := p.Acquire(addr, settings(), health.NewGroup(1, 0.5))
	waitReady(t, e)
	if e.Health().Up() {
		t.Fatal("engine with refused connection is up")
	}
	err = e.Send(newCall(), make([]byte, 8), call(1, "k"), time.Now(), time.Now().Add(time.Second))
	var re *rpc.Error
	if !errors.As(err, &re) || re.Code != rpc.CodeNoConnections || !bytes.Contains([]byte(re.Description), []byte(addr)) {
		t.Fatalf("send to dead engine: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(changes) != 1 || changes[0].State != health.StateDown || changes[0].Cause != health.CauseConnect {
		t.Fatalf("transitions %+v, want one connect-error down", changes)
	}
}

func TestTimeoutsThenProbeBringsBack(t *testing.T) {

	eng, err := enginetest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	var hold atomic.Bool
	hold.Store(true)
	eng.Handler = func(r *enginetest.Request) enginetest.Reply {
		return enginetest.Reply{Drop: hold.Load() && r.Function() != enginetest.TagEnginePid}
	}
	clk := newClock()
	p := startPool(t, clk)
	e := p.Acquire(eng.Addr, settings(), health.NewGroup(1, 0.5))
	waitReady(t, e)
	for i := range 3 {
		c := newCall()
		now := clk.Now()
		if err := e.Send(c, make([]byte, 8), call(1, "k"), now, now.Add(100*time.Millisecond)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		clk.Advance(101 * time.Millisecond)
		r := c.wait(t) // the pool's ticker fails it on the fake clock
		var re *rpc.Error
		if !errors.As(r.err, &re) || re.Code != rpc.CodeQueryTimeout {
			t.Fatalf("call %d ended with %v, want QUERY_TIMEOUT", i, r.err)
		}
	}
	if e.Health().Up() {
		t.Fatal("up after 3 consecutive timeouts")
	}
	// The first probe is due ProbeInterval after going down.
	clk.Advance(time.Second)
	eventually(t, "probe brings the engine back", e.Health().Up)
	probes := 0
	for _, r := range eng.Log() {
		if r.Type == rpc.TypeInvokeReq && r.Function() == enginetest.TagEnginePid {
			probes++
		}
	}
	if probes != 1 {
		t.Fatalf("%d probes, want 1", probes)
	}
}

func TestCancelIsPassedOn(t *testing.T) {

	eng, err := enginetest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	eng.Handler = func(*enginetest.Request) enginetest.Reply { return enginetest.Reply{Hold: true} }
	p := startPool(t, nil)
	e := p.Acquire(eng.Addr, settings(), nil)
	waitReady(t, e)
	c := newCall()
	if err := e.Send(c, make([]byte, 8), call(1, "k"), time.Now(), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	qid := c.qid.Load()
	<-eng.Requests
	if !e.Cancel(qid) {
		t.Fatal("cancel found nothing")
	}
	if e.Cancel(qid) {
		t.Fatal("second cancel found the call again")
	}
	select {
	case r := <-eng.Requests:
		got, err := rpc.ParseCancelReq(r.Raw)
		if r.Type != rpc.TypeCancelReq || err != nil || got != qid {
			t.Fatalf("engine got %08x %x, want cancel of %d", r.Type, r.Raw, qid)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("engine got no cancel")
	}
	eng.Release() // a late answer is dropped: the call must not end
	select {
	case r := <-c.done:
		t.Fatalf("cancelled call ended with %+v", r)
	default:
	}
}

func TestServerWantsFinMovesToNewConnection(t *testing.T) {

	eng, err := enginetest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	p := startPool(t, nil)
	e := p.Acquire(eng.Addr, settings(), nil)
	waitReady(t, e)
	// One answered call proves the engine has registered the connection.
	c0 := newCall()
	if err := e.Send(c0, make([]byte, 8), call(1, "k"), time.Now(), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	c0.wait(t)
	e.mu.Lock()
	first := e.cur
	e.mu.Unlock()
	eng.SendServerWantsFin()
	eventually(t, "a new connection after rpcServerWantsFin", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.cur != nil && e.cur != first
	})
	c := newCall()
	if err := e.Send(c, make([]byte, 8), call(1, "k"), time.Now(), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if r := c.wait(t); r.err != nil {
		t.Fatal(r.err)
	}
	if !e.Health().Up() {
		t.Fatal("a graceful engine restart marked it down")
	}
}

func TestReleaseClosesLastReference(t *testing.T) {

	eng, err := enginetest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	p := startPool(t, nil)
	a := p.Acquire(eng.Addr, settings(), nil)
	b := p.Acquire(eng.Addr, settings(), nil)
	if a != b {
		t.Fatal("two engines for one address")
	}
	waitReady(t, a)
	p.Release(a)
	if len(p.Engines()) != 1 || !a.Connected() {
		t.Fatal("engine closed while referenced")
	}
	p.Release(b)
	if len(p.Engines()) != 0 {
		t.Fatal("engine kept after its last reference")
	}
	err = a.Send(newCall(), make([]byte, 8), call(1, "k"), time.Now(), time.Now())
	var re *rpc.Error
	if !errors.As(err, &re) || re.Code != rpc.CodeNoConnections {
		t.Fatalf("send to released engine: %v", err)
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// eventually waits up to 5s for cond, checking every millisecond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting: %s", what)
		}
	}
}

// TestStatsLatency: the first answer sets the moving average, each later
// one moves it 1/8 of the way; the sum adds every answer; a negative
// latency (two burst clock readings) counts as 0, and an answer keeps the
// average above 0, which means "no answer yet".
func TestStatsLatency(t *testing.T) {
	var s Stats
	if s.Latency() != 0 {
		t.Fatal("latency before any answer")
	}
	for _, step := range []struct{ in, avg time.Duration }{
		{800 * time.Microsecond, 800 * time.Microsecond},
		{1600 * time.Microsecond, 900 * time.Microsecond},
		{-time.Second, 900*time.Microsecond - 900*time.Microsecond/8},
	} {
		s.observe(step.in)
		if s.Latency() != step.avg {
			t.Fatalf("after %v: average %v, want %v", step.in, s.Latency(), step.avg)
		}
	}
	if got := time.Duration(s.LatencyNs.Load()); got != 2400*time.Microsecond {
		t.Fatalf("sum %v, want 2.4ms", got)
	}
	var z Stats
	z.observe(0)
	if z.Latency() <= 0 {
		t.Fatal("an answer in 0s left the average at 0 (no answer)")
	}
}
