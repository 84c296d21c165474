package rpcproxy

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rpcproxy/rpcproxy/configs"
	"github.com/rpcproxy/rpcproxy/rpcproxy/metrics"
	"github.com/rpcproxy/rpcproxy/rpcproxy/route"
	"github.com/rpcproxy/rpcproxy/rpcproxy/upstream"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
	"github.com/rpcproxy/rpcproxy/tl/rpc/server"
	"github.com/rpcproxy/rpcproxy/tl/rpc/udp"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// Options are what the caller wires into a Proxy; zero fields take the
// defaults named. Nothing here is read from the environment.
type Options struct {
	// Logger gets the proxy's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock of deadlines and health; nil means time.Now.
	Now func() time.Time
	// Listen opens the proxy's listeners (app ports and admin) at their
	// configured addresses; nil means net.Listen. Tests map configured
	// addresses to 127.0.0.1:0 here and find the real ones with Addr.
	Listen func(network, addr string) (net.Listener, error)
	// Dial opens engine connections; nil means a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Rand returns uniform values in [0, 1) for probe jitter; nil means
	// math/rand/v2.
	Rand func() float64
	// ConfigPath is the file Reload reads and the watcher polls; "" means
	// Reload is not available (use Apply).
	ConfigPath string
	// WatchInterval polls ConfigPath for changes (content hash); 0 is off.
	WatchInterval time.Duration
	// Tick is how often engine deadlines and probes are checked; default 5ms.
	Tick time.Duration
	// DialTimeout bounds an engine dial plus handshake; default 1s.
	DialTimeout time.Duration
	// EngineQueueLimit caps the request bytes waiting to be written to one
	// engine connection (an engine that stopped reading); beyond it
	// requests for that engine fail at once with NO_CONNECTIONS saying the
	// engine is not reading. Default 16 MiB.
	EngineQueueLimit int
	// MaxAppPending caps the answer bytes waiting to be written to one TCP
	// app connection (its packet WriteBufferLimit); beyond it answers are
	// replaced by CONGESTION_CONTROL_DISCARD (-3017), and beyond that plus
	// a slack of 256 KiB the connection is closed. Default 1 MiB
	// (packet.DefaultWriteBufferLimit). UDP app
	// connections are bounded by the UDP transport's window instead.
	MaxAppPending int
	// NoAdmin skips the admin HTTP listener.
	NoAdmin bool
}

// Proxy is a running TL RPC proxy.
type Proxy struct {
	opts  Options
	log   *slog.Logger
	pool  *upstream.Pool
	stats *metrics.Registry

	gen     atomic.Pointer[generation]
	cfg     atomic.Pointer[configs.Config]
	fwdPool sync.Pool
	// joinPool holds joined engine calls (coalesce.go).
	joinPool sync.Pool
	// shadowPool holds shadow copies (shadow.go).
	shadowPool sync.Pool
	slowLog    slowLog

	noTarget     atomic.Uint64 // no cluster at all
	reloads      atomic.Uint64
	reloadErrors atomic.Uint64
	reloadState  reloadState

	mu        sync.Mutex // listeners, reload, shutdown
	listeners map[netip.AddrPort]*listener
	// shown is listeners as a list in address order, published again
	// (under mu) after each change, for /stats and /metrics, which must
	// not wait for a reload holding mu.
	shown    atomic.Pointer[[]*listener]
	serving  bool
	admin    *adminServer
	stopped  chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup // repliers, listener servers, watcher, drains
	started  time.Time
	// readSum is the content hash of ConfigPath as last read: by New, or
	// by the last Reload (applied or refused, from SIGHUP or the
	// watcher). The watcher reloads only content not read yet.
	readSum atomic.Pointer[[]byte]
	// key is proxy.key_file's key as read at start (nil: none), and udp
	// whether app listeners also serve UDP; a reload does not change them.
	key []byte
	udp bool
	// udpIdle is proxy.udp_idle_after at start: app UDP peers idle this
	// long are parked (0: never).
	udpIdle time.Duration
	// limits are the app side's caps, shared by every listener and set
	// again by each reload: connections, request bytes in flight, answer
	// bytes held (for apps not reading, and fan-out answers waiting for
	// their merge), the largest request.
	limits *server.Limits
}

// listener is one app port: the proxy's main listen address or a
// cluster's own, each with its own tl/rpc/server so that a port removed by
// a reload can be shut down gracefully on its own.
type listener struct {
	addr netip.AddrPort // as configured
	ln   net.Listener
	udp  *udp.Transport // on ln's address when proxy.udp is on; nil otherwise
	srv  *server.Server
	h    *handler
}

// New builds the proxy for cfg (validated by configs), opens its listeners
// and starts dialling engines; Serve starts accepting.
func New(cfg *configs.Config, o Options) (*Proxy, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Listen == nil {
		o.Listen = net.Listen
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	if o.MaxAppPending <= 0 {
		o.MaxAppPending = packet.DefaultWriteBufferLimit
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = time.Second
	}
	p := &Proxy{
		opts:      o,
		log:       o.Logger,
		stats:     metrics.NewRegistry(),
		listeners: map[netip.AddrPort]*listener{},
		stopped:   make(chan struct{}),
		started:   o.Now(),
	}
	if o.ConfigPath != "" {
		p.noteRead()
	}
	var err error
	if p.limits, err = server.NewLimits(appLimits(cfg)); err != nil {
		return nil, fmt.Errorf("rpcproxy: %w", err)
	}
	p.fwdPool.New = func() any { return &forward{hdr: make([]byte, 0, 128)} }
	p.joinPool.New = func() any { return &joined{} }
	p.shadowPool.New = func() any { return &shadow{} }
	if cfg.Proxy.KeyFile != "" {
		key, err := configs.ReadKey(cfg.Proxy.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("rpcproxy: %w", err)
		}
		p.key, p.udp, p.udpIdle = key, cfg.Proxy.UDP, cfg.Proxy.UDPIdleAfter
	}
	p.pool = upstream.NewPool(upstream.Options{
		Dial:        o.Dial,
		DialTimeout: o.DialTimeout,
		QueueLimit:  o.EngineQueueLimit,
		Tick:        o.Tick,
		Now:         o.Now,
		Rand:        o.Rand,
		Logger:      o.Logger,
		Packet:      packet.Config{Logger: o.Logger, Key: p.key},
		UDPKey:      p.key,
	})
	sch, err := loadSchema(cfg)
	if err != nil {
		p.pool.Close()
		return nil, err
	}
	tab, err := route.Build(cfg, sch, p.engineSource(cfg), p.stats)
	if err != nil {
		p.pool.Close()
		return nil, err
	}
	tab.Start(p.now(), nil)
	p.gen.Store(newGeneration(tab))
	p.cfg.Store(cfg)
	p.reloadState.applied(p.now())
	for _, a := range listenAddrs(cfg) {
		if _, err := p.openListener(cfg, a); err != nil {
			p.Close()
			return nil, err
		}
	}
	if !o.NoAdmin {
		a, err := p.startAdmin(cfg.Proxy.Admin)
		if err != nil {
			p.Close()
			return nil, err
		}
		p.admin = a
	}
	p.waitEngines(tab)
	return p, nil
}

func newGeneration(tab *route.Table) *generation {
	g := &generation{tab: tab, drained: tab.Release}
	for _, c := range tab.Clusters {
		for _, rule := range c.Coalescing() {
			for i := range c.Shards {
				for _, e := range c.Shards[i].Replicas {
					if g.slots == nil {
						g.slots = map[joinKey]*joinSlot{}
					}
					g.slots[joinKey{e, rule}] = &joinSlot{}
				}
			}
		}
	}
	return g
}

// waitEngines waits (at most a dial timeout) for the first dial of every
// engine, so that a proxy that has just started does not refuse requests
// for engines it is still connecting to.
func (p *Proxy) waitEngines(tab *route.Table) {
	deadline := time.NewTimer(p.opts.DialTimeout + 100*time.Millisecond)
	defer deadline.Stop()
	for _, c := range tab.Clusters {
		for i := range c.Shards {
			for _, e := range c.Shards[i].Replicas {
				select {
				case <-e.Ready():
				case <-deadline.C:
					return
				}
			}
		}
	}
}

func loadSchema(cfg *configs.Config) (*schema.Schema, error) {
	if len(cfg.Proxy.Schemas) == 0 {
		return nil, nil
	}
	s, err := schema.LoadWithPrelude(cfg.Proxy.Schemas...)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("rpcproxy: schemas: %w (proxy.schemas paths are relative to the config file's folder)", err)
	case err != nil:
		return nil, fmt.Errorf("rpcproxy: schemas: %w", err)
	}
	return s, nil
}

// appLimits are cfg's caps of the app side, over all listeners.
func appLimits(cfg *configs.Config) server.LimitValues {
	return server.LimitValues{
		MaxConns:        cfg.Proxy.MaxConnections,
		MaxRequestBytes: cfg.Proxy.MaxRequestBytes,
		MaxHeldBytes:    cfg.Proxy.MaxResponseBytes,
		// max_request_size caps the body; a packet adds its header and
		// CRC (the protocol's packet limit less its body limit).
		MaxPacketLen: cfg.Proxy.MaxRequestSize + packet.MaxPacketLen - packet.MaxBodyLen,
	}
}

// listenAddrs are the app ports of cfg: the main one, then the clusters'.
func listenAddrs(cfg *configs.Config) []netip.AddrPort {
	out := []netip.AddrPort{cfg.Proxy.Listen}
	for i := range cfg.Clusters {
		if a := cfg.Clusters[i].Listen; a.IsValid() {
			out = append(out, a)
		}
	}
	return out
}

func (p *Proxy) openListener(cfg *configs.Config, addr netip.AddrPort) (*listener, error) {
	ln, err := p.opts.Listen("tcp", addr.String())
	if err != nil {
		return nil, fmt.Errorf("rpcproxy: listen %s: %w", addr, err)
	}
	h := &handler{p: p, listen: addr}
	srv, err := server.New(server.Config{
		Handler: h,
		Logger:  p.log,
		Now:     p.opts.Now,
		Limits:  p.limits,
		Packet:  packet.Config{Logger: p.log, Key: p.key, WriteBufferLimit: p.opts.MaxAppPending},
	})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("rpcproxy: listener %s: %w", addr, err)
	}
	l := &listener{addr: addr, ln: ln, srv: srv, h: h}
	if p.udp {
		if l.udp, err = p.listenUDP(ln.Addr()); err != nil {
			ln.Close()
			return nil, fmt.Errorf("rpcproxy: listen udp %s: %w", addr, err)
		}
	}
	p.listeners[addr] = l
	p.showListeners()
	if p.serving {
		p.serve(l)
	}
	return l, nil
}

// showListeners publishes p.listeners in address order; mu held.
func (p *Proxy) showListeners() {
	ls := make([]*listener, 0, len(p.listeners))
	for _, l := range p.listeners {
		ls = append(ls, l)
	}
	slices.SortFunc(ls, func(a, b *listener) int { return a.addr.Compare(b.addr) })
	p.shown.Store(&ls)
}

// shownListeners returns the listeners as last published.
func (p *Proxy) shownListeners() []*listener {
	if ls := p.shown.Load(); ls != nil {
		return *ls
	}
	return nil
}

func (p *Proxy) serve(l *listener) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := l.srv.Serve(l.ln); err != nil && !errors.Is(err, server.ErrServerClosed) {
			p.log.Error("listener stopped", "listen", l.addr.String(), "error", err.Error())
		}
	}()
	if l.udp != nil {
		p.serveUDP(l)
	}
}

// Addr returns the real address of the app listener configured at addr
// (the proxy's listen or a cluster's), or nil.
func (p *Proxy) Addr(addr netip.AddrPort) net.Addr {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l := p.listeners[addr]; l != nil {
		return l.ln.Addr()
	}
	return nil
}

// AdminAddr returns the admin listener's address, or nil.
func (p *Proxy) AdminAddr() net.Addr {
	if p.admin == nil {
		return nil
	}
	return p.admin.ln.Addr()
}

// Table returns the routing table in use.
func (p *Proxy) Table() *route.Table { return p.gen.Load().tab }

// Config returns the config in use.
func (p *Proxy) Config() *configs.Config { return p.cfg.Load() }

func (p *Proxy) now() time.Time { return p.opts.Now() }

// Serve accepts app connections until ctx ends (then it shuts down
// gracefully within the config's drain_timeout) or Shutdown or Close is
// called, and returns when the proxy has stopped.
func (p *Proxy) Serve(ctx context.Context) error {
	p.mu.Lock()
	select {
	case <-p.stopped:
		p.mu.Unlock()
		return ErrStopped
	default:
	}
	p.serving = true
	for _, l := range p.listeners {
		p.serve(l)
	}
	if p.admin != nil {
		p.admin.start(&p.wg)
	}
	if p.opts.ConfigPath != "" && p.opts.WatchInterval > 0 {
		p.wg.Add(1)
		go p.watch()
	}
	p.mu.Unlock()
	cfg := p.Config()
	p.log.Info("rpcproxy serving", p.summary(cfg)...)
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), p.Config().Proxy.DrainTimeout)
		defer cancel()
		return p.Shutdown(sctx)
	case <-p.stopped:
		p.wg.Wait()
		return nil
	}
}

func (p *Proxy) summary(cfg *configs.Config) []any {
	var clusters []string
	for i := range cfg.Clusters {
		c := &cfg.Clusters[i]
		n := 0
		for _, s := range c.Shards {
			n += len(s.Replicas)
		}
		clusters = append(clusters, fmt.Sprintf("%s(%d shards, %d engines)", c.Name, len(c.Shards), n))
	}
	var ls []string
	for _, a := range listenAddrs(cfg) {
		if ad := p.Addr(a); ad != nil {
			ls = append(ls, ad.String())
		}
	}
	attrs := []any{"listen", ls, "clusters", clusters, "config_sha256", hex.EncodeToString(cfg.SHA256[:])}
	if a := p.AdminAddr(); a != nil {
		attrs = append(attrs, "admin", a.String())
	}
	return attrs
}

// Shutdown stops accepting, tells every app connection (rpcServerWantsFin),
// waits for requests in flight until ctx ends, then closes everything. It
// returns ctx's error if requests were still in flight.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	first := false
	p.stopOnce.Do(func() { close(p.stopped); first = true })
	ls := make([]*listener, 0, len(p.listeners))
	for _, l := range p.listeners {
		ls = append(ls, l)
	}
	p.listeners = map[netip.AddrPort]*listener{}
	p.showListeners()
	p.mu.Unlock()
	if !first {
		p.wg.Wait()
		return nil
	}
	p.log.Info("rpcproxy shutting down", "listeners", len(ls))
	errs := make(chan error, len(ls))
	for _, l := range ls {
		go func() {
			errs <- l.srv.Shutdown(ctx)
			l.closeSockets() // never served: Shutdown did not know them
		}()
	}
	var err error
	for range ls {
		if e := <-errs; e != nil && err == nil {
			err = e
		}
	}
	p.stopRest()
	if err != nil {
		p.log.Warn("rpcproxy stopped before every request was answered", "error", err.Error())
	} else {
		p.log.Info("rpcproxy stopped")
	}
	return err
}

// Close stops everything at once; requests in flight are dropped.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.stopOnce.Do(func() { close(p.stopped) })
	ls := p.listeners
	p.listeners = map[netip.AddrPort]*listener{}
	p.showListeners()
	p.mu.Unlock()
	for _, l := range ls {
		_ = l.srv.Close()
		l.closeSockets()
	}
	p.stopRest()
}

// stopRest closes the admin listener and the engines and waits for every
// goroutine the proxy started.
func (p *Proxy) stopRest() {
	if p.admin != nil {
		p.admin.close()
	}
	p.pool.Close()
	p.wg.Wait()
}
