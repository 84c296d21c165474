package upstream

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/rpcproxy/rpcproxy/rpcproxy/health"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
	"github.com/rpcproxy/rpcproxy/tl/rpc/udp"
)

// TagEnginePid is engine.pid, the probe every VK engine answers.
const TagEnginePid uint32 = 0x559d6e36

// Options configure a Pool. Zero fields take the defaults named.
type Options struct {
	// Dial opens connections to engines; nil means a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Packet configures engine connections (keys, timeouts).
	Packet packet.Config
	// DialTimeout bounds dial plus handshake; default 1s.
	DialTimeout time.Duration
	// ProbeTimeout bounds a probe's engine.pid; default 1s.
	ProbeTimeout time.Duration
	// QueueLimit caps bytes pending to one engine connection (its
	// packet.Config.WriteBufferLimit, unless Packet sets one); beyond it
	// Send fails at once. Default 16 MiB.
	QueueLimit int
	// Tick is how often deadlines are checked and due probes started;
	// default 5ms. A call fails at most one Tick after its deadline; an
	// engine's pending calls are scanned only when one may be due.
	Tick time.Duration
	// Now is the clock of deadlines and health; nil means time.Now.
	Now func() time.Time
	// Rand returns uniform values in [0, 1) for probe jitter; nil means
	// no jitter.
	Rand func() float64
	// Logger gets one line per engine state change; nil discards.
	Logger *slog.Logger
	// OnChange, if set, is called once per health transition.
	OnChange func(e *Engine, c health.Change, cause error)
	// UDPKey is the crypto key of UDP engines (AcquireUDP), >= 32 bytes;
	// the pool makes one Transport for them on first use and closes it
	// with the pool. nil: UDP engines fail to connect.
	UDPKey []byte
	// UDP, if set, is the Transport for UDP engines instead (the caller
	// owns it; tests).
	UDP *udp.Transport
}

// Pool owns every engine connection of the proxy, keyed by address.
type Pool struct {
	opts    Options
	mu      sync.Mutex
	engines map[string]*Engine
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	ownUDP  *udp.Transport // made by udpTransport; under mu
}

// NewPool starts a pool and its ticker; Close stops it.
func NewPool(o Options) *Pool {
	if o.Dial == nil {
		var d net.Dialer
		o.Dial = d.DialContext
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = time.Second
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = time.Second
	}
	if o.QueueLimit <= 0 {
		o.QueueLimit = 16 << 20
	}
	if o.Tick <= 0 {
		o.Tick = 5 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Packet.Logger == nil {
		o.Packet.Logger = o.Logger
	}
	if o.Packet.WriteBufferLimit <= 0 {
		o.Packet.WriteBufferLimit = o.QueueLimit
	}
	if o.Packet.WarnLimit == nil {
		// One line a second for failed engine connections; engines going
		// down and up are logged by the pool on their own.
		o.Packet.WarnLimit = &packet.LogLimit{Now: o.Now}
	}
	p := &Pool{opts: o, engines: map[string]*Engine{}}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.wg.Add(1)
	go p.run()
	return p
}

func (p *Pool) now() time.Time { return p.opts.Now() }

// Acquire returns the engine at addr, creating and dialling it on first
// use, and counts one more reference. Settings and group replace the
// engine's current ones: the newest config wins.
func (p *Pool) Acquire(addr string, s health.Settings, g *health.Group) *Engine {
	return p.acquire(addr, addr, false, s, g)
}

// acquire finds or makes the engine under key (its address, or udpKey).
func (p *Pool) acquire(key, addr string, isUDP bool, s health.Settings, g *health.Group) *Engine {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.engines[key]
	if ok {
		e.mu.Lock()
		e.refs++
		e.mu.Unlock()
		e.health.SetSettings(s)
		e.health.SetGroup(g)
		return e
	}
	e = &Engine{
		key:    key,
		udp:    isUDP,
		addr:   addr,
		pool:   p,
		health: health.New(s, g, p.opts.Rand),
		errs:   newEngineErrors(addr),
		links:  map[*link]struct{}{},
		refs:   1,
		ready:  make(chan struct{}),
	}
	p.engines[key] = e
	p.goConnect(e)
	return e
}

// Release drops one reference; the last one closes the engine.
func (p *Pool) Release(e *Engine) {
	p.mu.Lock()
	e.mu.Lock()
	e.refs--
	last := e.refs == 0
	e.mu.Unlock()
	if last {
		delete(p.engines, e.key)
	}
	p.mu.Unlock()
	if last {
		e.close()
	}
}

// Engines returns the engines in the pool.
func (p *Pool) Engines() []*Engine {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*Engine, 0, len(p.engines))
	for _, e := range p.engines {
		out = append(out, e)
	}
	return out
}

// Close closes every engine, failing pending calls, and waits for the
// pool's goroutines.
func (p *Pool) Close() {
	p.cancel()
	p.mu.Lock()
	all := make([]*Engine, 0, len(p.engines))
	for _, e := range p.engines {
		all = append(all, e)
	}
	p.engines = map[string]*Engine{}
	p.mu.Unlock()
	for _, e := range all {
		e.close()
	}
	p.wg.Wait()
	p.mu.Lock()
	tr := p.ownUDP
	p.ownUDP = nil
	p.mu.Unlock()
	if tr != nil {
		_ = tr.Close()
	}
}

func (p *Pool) goConnect(e *Engine) {
	if p.ctx.Err() != nil {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		err := e.connect(p.ctx)
		if err != nil && !errors.Is(err, errDialing) {
			p.report(e, e.health.ConnectFailed(p.now()), err)
		}
		e.readyOne.Do(func() { close(e.ready) })
	}()
}

// run is the pool's ticker: deadlines and probes.
func (p *Pool) run() {
	defer p.wg.Done()
	t := time.NewTicker(p.opts.Tick)
	defer t.Stop()
	var list []*Engine
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
		}
		p.mu.Lock()
		list = list[:0]
		for _, e := range p.engines {
			list = append(list, e)
		}
		p.mu.Unlock()
		p.Tick(list)
	}
}

// Tick checks deadlines and starts due probes for engines; the pool's
// ticker calls it, and tests with a fake clock may call it directly.
func (p *Pool) Tick(engines []*Engine) {
	now := p.now()
	for _, e := range engines {
		e.sweep(now)
		if e.health.ProbeDue(now) {
			p.wg.Add(1)
			go p.probe(e)
		}
	}
}

// probe redials if needed and asks engine.pid; the answer decides.
func (p *Pool) probe(e *Engine) {
	defer p.wg.Done()
	var cause error
	if !e.Connected() {
		cause = e.connect(p.ctx)
	}
	ok := cause == nil
	if ok {
		pc := &probeCall{done: make(chan error, 1)}
		hdr := make([]byte, 8, 12)
		body := tl.AppendUint32(nil, TagEnginePid)
		start := p.now()
		if err := e.Send(pc, hdr, body, start, start.Add(p.opts.ProbeTimeout)); err != nil {
			ok, cause = false, err
		} else {
			select {
			case err := <-pc.done:
				ok, cause = err == nil, err
			case <-p.ctx.Done():
				ok, cause = false, p.ctx.Err()
			}
		}
	}
	p.report(e, e.health.ProbeDone(p.now(), ok), cause)
}

type probeCall struct{ done chan error }

func (c *probeCall) Answer(_ uint32, _ []byte, res *rpc.ReqResult, _ *packet.Batch) {
	c.done <- res.Err()
}
func (c *probeCall) Fail(err error) { c.done <- err }
func (c *probeCall) Sent(int64)     {}

// report logs a transition once and passes it to OnChange.
func (p *Pool) report(e *Engine, c health.Change, cause error) {
	if !c.Changed {
		return
	}
	attrs := []any{"engine", e.addr, "state", c.State.String(), "reason", c.Cause.String()}
	if cause != nil {
		attrs = append(attrs, "error", cause.Error())
	}
	switch {
	case c.FailOpen:
		p.opts.Logger.Warn("engine failing but kept up: too much of its cluster is down (max_down_share)", attrs...)
	case c.State == health.StateDown:
		p.opts.Logger.Warn("engine down", attrs...)
	default:
		p.opts.Logger.Info("engine up", attrs...)
	}
	if p.opts.OnChange != nil {
		p.opts.OnChange(e, c, cause)
	}
}
