package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rpcproxy/rpcproxy/cmd/internal/memcache"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/client"
)

// opKind is the operation of one request.
type opKind uint8

const (
	opGet opKind = iota
	opSet
	opMget
	nOps
)

func (k opKind) String() string { return [...]string{"get", "set", "mget"}[k] }

// stripe is a share of the counters: connection i records into stripe
// i%len(stripes), so completions on different cores rarely touch the same
// cache lines, and nothing is locked except on the error path.
type stripe struct {
	hist   hist
	ok     [nOps]atomic.Uint64 // successful measured requests
	hits   [nOps]atomic.Uint64 // get: requests that found the key; mget: keys found
	misses [nOps]atomic.Uint64
	keys   atomic.Uint64 // keys asked by successful mgets
	errs   atomic.Uint64

	mu     sync.Mutex
	byCode map[string]uint64
	_      [64]byte // keep the next stripe's hot counters off this line
}

func (st *stripe) recordErr(name string) {
	st.errs.Add(1)
	st.mu.Lock()
	st.byCode[name]++
	st.mu.Unlock()
}

// errName names a failure for the report: the TL error name (or its code
// when unnamed), or what went wrong locally.
func errName(err error) string {
	var re *rpc.Error
	switch {
	case errors.As(err, &re):
		if n := rpc.CodeName(re.Code); n != "" {
			return n
		}
		return strconv.Itoa(int(re.Code))
	case errors.Is(err, client.ErrTimeout):
		return "local_timeout"
	case errors.Is(err, client.ErrConnLost):
		return "local_connection_lost"
	case errors.Is(err, client.ErrNoConnection):
		return "local_no_connection"
	case errors.Is(err, memcache.ErrAnswer):
		return "bad_answer"
	}
	return "local_other"
}

// phase says what slots send.
type phase uint8

const (
	phaseLoad    phase = iota // the mix, measured after the warm-up
	phasePrefill              // memcache.set of every key once, in order
)

// bench is one run: the connections, their slots and the counters.
type bench struct {
	p       *params
	base    time.Time
	clients []*client.Client
	conns   []*conn
	slots   []*slot
	stripes []*stripe
	value   []byte

	phase       phase
	measureFrom atomic.Int64 // ns since base; requests started at or after it are measured
	stopping    atomic.Bool  // slots send nothing more
	issued      atomic.Int64 // measured requests sent, for -n
	nReached    chan struct{}
	nOnce       sync.Once
	wg          sync.WaitGroup // slots still sending

	prefillNext atomic.Int64
	prefillOK   atomic.Int64
	prefillErrs atomic.Int64
}

var _ client.Handler = (*bench)(nil)

// slot is one closed loop: one request in flight at a time. Its fields are
// touched by whoever completes its current request, and the next request
// starts only after that, so they need no lock (the client's submit orders
// the accesses).
type slot struct {
	b     *bench
	cl    *client.Client
	cn    *conn
	st    *stripe
	token uint64
	rng   *rand.Rand
	zipf  *rand.Zipf

	req      client.Request
	resp     client.Response // sync driver only
	buf, key []byte
	op       opKind
	start    int64
	measured bool
	retired  bool

	// Pacing (-rate): the slot's requests are due every interval ns (0:
	// closed loop), at due next; a request's latency counts from its due
	// time. While the slot waits for it, waiting is set and timer is
	// armed; whoever clears waiting (the timer's wake, or bench.stop) owns
	// the slot's next step.
	interval int64
	due      int64
	timer    *time.Timer
	waiting  atomic.Bool
}

// paceSlack is how early a paced request may leave: Go's timers sleep in
// whole milliseconds when nothing else wakes the process, so a request
// waits for a timer only when it is due more than this from now, and the
// timer fires this much before it is due. Without it latencies would
// include up to 1 ms of the timer's lateness.
const paceSlack = time.Millisecond

// newBench creates the clients and slots (nothing is dialed yet).
func newBench(p *params) (*bench, error) {
	b := &bench{p: p, base: time.Now(), nReached: make(chan struct{})}
	b.value = make([]byte, p.ValueSize)
	for i := range b.value {
		b.value[i] = 'a' + byte(i%26)
	}
	nStripes := min(p.Conns, 16)
	for range nStripes {
		b.stripes = append(b.stripes, &stripe{byCode: map[string]uint64{}})
	}
	if p.Seed == 0 {
		// Chosen here and kept in p, so the report shows the seed that
		// reproduces the run's key and op sequence.
		p.Seed = uint64(time.Now().UnixNano())
	}
	seed := p.Seed
	for c := range p.Conns {
		o := p.conn
		o.DefaultTimeout = p.Timeout
		o.DialTimeout = min(p.Timeout*5, 10*time.Second)
		cl, err := client.New(p.Addr, o)
		if err != nil {
			b.close()
			return nil, err
		}
		b.clients = append(b.clients, cl)
		cn := &conn{b: b}
		b.conns = append(b.conns, cn)
		for range p.Depth {
			s := &slot{b: b, cl: cl, cn: cn, st: b.stripes[c%nStripes], token: uint64(len(b.slots))}
			cn.slots = append(cn.slots, s)
			s.rng = rand.New(rand.NewPCG(seed, s.token))
			if p.Dist == "zipf" {
				s.zipf = rand.NewZipf(s.rng, p.ZipfS, 1, uint64(p.Keys-1))
			}
			s.req.ActorID = p.Actor
			s.buf = make([]byte, 0, 64+p.ValueSize+p.MgetKeys*(len(p.KeyPrefix)+24))
			s.key = make([]byte, 0, len(p.KeyPrefix)+20)
			b.slots = append(b.slots, s)
		}
	}
	if p.Rate > 0 {
		// Each slot carries rate/slots requests per second; its first is
		// due after its share of one interval, so the slots interleave.
		interval := max(1, int64(len(b.slots))*int64(time.Second)/p.Rate)
		for _, s := range b.slots {
			s.interval = interval
			s.timer = time.AfterFunc(time.Hour, s.wake)
			s.timer.Stop()
		}
	}
	return b, nil
}

// now is the monotonic time since the run began, in ns.
func (b *bench) now() int64 { return int64(time.Since(b.base)) }

// close closes every client: pending calls fail with ErrClosed.
func (b *bench) close() {
	for _, cl := range b.clients {
		_ = cl.Close()
	}
}

// stop makes every slot finish after its request in flight. A paced slot
// waiting for its next request's due time retires now, so the run never
// waits out an interval: stop, the timer's wake and the slot itself (send
// re-checks stopping after it starts waiting) race to clear its waiting
// flag, and the one that does owns the slot.
func (b *bench) stop() {
	b.stopping.Store(true)
	for _, s := range b.slots {
		if s.waiting.CompareAndSwap(true, false) {
			s.timer.Stop()
			s.next()
		}
	}
}

// start launches every slot with the given driver; b.wg counts them.
func (b *bench) start(ph phase) {
	b.phase = ph
	b.stopping.Store(false)
	b.wg.Add(len(b.slots))
	now := b.now()
	for i, s := range b.slots {
		s.retired = false
		if s.interval > 0 {
			s.due = now + int64(i)*s.interval/int64(len(b.slots))
		}
	}
	switch {
	case b.p.Driver == "sync":
		for _, s := range b.slots {
			go s.loop()
		}
	case b.p.Batch:
		for _, c := range b.conns {
			c.sendBatch()
		}
	default:
		for _, s := range b.slots {
			s.next()
		}
	}
}

// idle returns a channel closed once every slot has stopped.
func (b *bench) idle() <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(ch)
	}()
	return ch
}

// drain stops the slots and waits for them; requests still unanswered
// after the grace period (a hung target) are failed by closing the
// clients, which is what bounds a run in time even then.
func (b *bench) drain(idle <-chan struct{}) {
	b.stop()
	grace := time.NewTimer(b.p.Timeout + time.Second)
	defer grace.Stop()
	select {
	case <-idle:
	case <-grace.C:
		b.close()
		<-idle
	}
}

// Done is the async driver: record the answer, send the next request.
func (b *bench) Done(token uint64, resp *client.Response, err error) {
	s := b.slots[token]
	var body []byte
	if resp != nil {
		body = resp.Body
	}
	s.complete(body, err)
	if !b.p.Batch {
		s.next()
		return
	}
	if s.cn.pending.Add(-1) == 0 {
		s.cn.sendBatch()
	}
}

// next sends the slot's next request, or retires the slot.
func (s *slot) next() {
	if _, retired := s.send(); retired {
		s.b.wg.Done()
	}
}

// send starts the slot's next request and reports whether it did, or
// whether the slot has just retired (nothing more to send). The caller
// counts retirements down on b.wg, after its last touch of any slot: the
// run reuses the slots as soon as the count reaches zero.
func (s *slot) send() (sent, retired bool) {
	if s.retired {
		return false, false
	}
	if s.interval > 0 && s.b.phase == phaseLoad && !s.b.stopping.Load() {
		if wait := s.due - s.b.now(); wait > int64(paceSlack) {
			s.waiting.Store(true)
			s.timer.Reset(time.Duration(wait) - paceSlack)
			if s.b.stopping.Load() && s.waiting.CompareAndSwap(true, false) {
				s.timer.Stop()
				s.retired = true // stop ran meanwhile and found the slot busy
				return false, true
			}
			return true, false // the timer's wake sends it, or stop retires the slot
		}
	}
	if !s.prepare() {
		s.retired = true
		return false, true
	}
	if _, err := s.cl.Go(&s.req, time.Time{}, s.b, s.token); err != nil {
		// Go refuses only a closed client or a bad request: both end
		// this slot rather than spin.
		s.complete(nil, err)
		s.retired = true
		return false, true
	}
	return true, false
}

// wake is the pacing timer's: the slot's request is (nearly) due.
func (s *slot) wake() {
	if s.waiting.CompareAndSwap(true, false) {
		s.next()
	}
}

// conn is one connection's slots, for -batch: the answer that completes a
// batch sends the next one, d requests back to back.
type conn struct {
	b       *bench
	slots   []*slot
	pending atomic.Int32 // requests of the current batch not yet answered, +1 while sending
}

// sendBatch sends one request per live slot. The +1 guard keeps answers
// that arrive while it is still sending from starting the next batch; if
// they all arrived by the time the guard drops, this goroutine sends it.
func (c *conn) sendBatch() {
	retired := 0
	defer func() { c.b.wg.Add(-retired) }()
	for {
		c.pending.Store(int32(len(c.slots)) + 1)
		sent := 0
		for _, s := range c.slots {
			ok, gone := s.send()
			if ok {
				sent++
				continue
			}
			if gone {
				retired++
			}
			c.pending.Add(-1)
		}
		if c.pending.Add(-1) != 0 || sent == 0 {
			return
		}
	}
}

// loop is the sync driver: one goroutine per slot, blocking calls.
func (s *slot) loop() {
	defer s.b.wg.Done()
	for s.prepare() {
		err := s.cl.Do(context.Background(), &s.req, &s.resp)
		var body []byte
		if err == nil {
			body = s.resp.Body
		}
		s.complete(body, err)
		if errors.Is(err, client.ErrClosed) {
			return
		}
	}
}

// prepare builds the slot's next request into its buffer; false means the
// slot is done.
func (s *slot) prepare() bool {
	b := s.b
	if b.stopping.Load() {
		return false
	}
	now := b.now()
	if s.interval > 0 && b.phase == phaseLoad {
		// A request that leaves late (the target is behind) counts from
		// when it was due, so the target's queueing shows; one that
		// leaves early (within paceSlack) counts from now.
		now, s.due = min(now, s.due), s.due+s.interval
	}
	if b.phase == phasePrefill {
		k := b.prefillNext.Add(1) - 1
		if k >= b.p.Keys {
			return false
		}
		s.op, s.measured = opSet, false
		s.buf = memcache.AppendSet(s.buf[:0], s.keyOf(k), 0, 0, b.value)
	} else {
		s.measured = now >= b.measureFrom.Load()
		if s.measured && b.p.N > 0 {
			if b.issued.Add(1) > b.p.N {
				b.stop()
				b.nOnce.Do(func() { close(b.nReached) })
				return false
			}
		}
		s.build()
	}
	s.req.Body = s.buf
	s.start = now
	return true
}

// build picks an operation and keys and encodes the request.
func (s *slot) build() {
	m := s.b.p.Mix
	switch x := s.rng.IntN(m.total()); {
	case x < m.Get:
		s.op = opGet
		s.buf = memcache.AppendGet(s.buf[:0], s.keyOf(s.pick()))
	case x < m.Get+m.Set:
		s.op = opSet
		s.buf = memcache.AppendSet(s.buf[:0], s.keyOf(s.pick()), 0, 0, s.b.value)
	default:
		s.op = opMget
		s.buf = memcache.AppendGetMulti(s.buf[:0]) // tag and a zero count
		n := s.b.p.MgetKeys
		for range n {
			s.buf = tl.AppendBytes(s.buf, s.keyOf(s.pick()))
		}
		s.buf[4], s.buf[5], s.buf[6], s.buf[7] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
	}
}

// pick draws a key index by the configured distribution.
func (s *slot) pick() int64 {
	if s.zipf != nil {
		return int64(s.zipf.Uint64())
	}
	return s.rng.Int64N(s.b.p.Keys)
}

// keyOf writes prefix+k into the slot's key buffer (valid until the next call).
func (s *slot) keyOf(k int64) []byte {
	s.key = strconv.AppendInt(append(s.key[:0], s.b.p.KeyPrefix...), k, 10)
	return s.key
}

// complete records the outcome of the slot's request.
func (s *slot) complete(body []byte, err error) {
	b := s.b
	if b.phase == phasePrefill {
		if err != nil {
			b.prefillErrs.Add(1)
		} else {
			b.prefillOK.Add(1)
		}
		return
	}
	if !s.measured || errors.Is(err, client.ErrClosed) {
		return
	}
	st := s.st
	if err != nil {
		st.recordErr(errName(err))
		return
	}
	lat := b.now() - s.start
	switch s.op {
	case opGet:
		hit, _, rerr := memcache.ReadValue(body)
		if rerr != nil {
			st.recordErr("bad_answer")
			return
		}
		if hit {
			st.hits[opGet].Add(1)
		} else {
			st.misses[opGet].Add(1)
		}
	case opMget:
		h, m, rerr := memcache.CountHits(body)
		if rerr != nil {
			st.recordErr("bad_answer")
			return
		}
		st.hits[opMget].Add(uint64(h))
		st.misses[opMget].Add(uint64(m))
		st.keys.Add(uint64(h + m))
	}
	st.ok[s.op].Add(1)
	st.hist.Record(lat)
}
