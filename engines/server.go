package engines

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/server"
)

// Config configures a Server. Kind and Funcs are required.
type Config struct {
	// Kind names the engine ("memcache") in logs and engine.stat.
	Kind string
	// Version is the engine.version answer.
	Version string
	// Funcs are the engine's functions; their tags must not repeat each
	// other or the built-ins.
	Funcs []Func
	// Stats adds the engine's own counters (keys, bytes...) to
	// engine.stat; nil adds nothing. It runs on a reader goroutine.
	Stats func(add func(key, value string))
	// Faults are the initial faults (SetFaults and engine.debugSetFaults
	// change them at run time).
	Faults Faults
	// Logger receives the engine's and the server's events; nil discards.
	Logger *slog.Logger
	// Clock drives delayed answers, stall timeouts and engine.stat; nil
	// means SystemClock.
	Clock Clock
	// Rand returns a uniform number in [0, n) for the error rate; nil
	// means math/rand/v2. It may be called from many goroutines at once.
	Rand func(n uint32) uint32
	// Transport configures the TL RPC server (limits, packet settings,
	// DefaultTimeout). Its Handler, Logger, Now and Engine are set by New.
	Transport server.Config
}

// Server is a sample engine: a tl/rpc/server.Server whose handler
// dispatches by function tag, answers the engine.* built-ins, counts calls
// and errors per function, and injects faults on demand.
type Server struct {
	kind  string
	log   *slog.Logger
	clock Clock
	rand  func(n uint32) uint32
	srv   *server.Server
	tab   table
	sync  server.SyncFunc // serveSync, converted once so calls do not allocate
	stats func(add func(k, v string))

	faults   atomic.Pointer[Faults] // nil = healthy (the fast path)
	faultsMu sync.Mutex             // serializes SetFaults
	hold     holder
	injected atomic.Int64
	bufs     sync.Pool // *[]byte result buffers of held requests

	serving sync.WaitGroup // Listen's Serve goroutines
}

// New validates cfg and builds a Server; Listen or Serve starts it.
func New(cfg Config) (*Server, error) {
	if cfg.Kind == "" {
		return nil, fmt.Errorf("%w: Kind is empty", ErrBadConfig)
	}
	if err := cfg.Faults.Validate(); err != nil {
		return nil, err
	}
	s := &Server{kind: cfg.Kind, log: cfg.Logger, clock: cfg.Clock, rand: cfg.Rand, stats: cfg.Stats}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.clock == nil {
		s.clock = SystemClock()
	}
	if s.rand == nil {
		s.rand = rand.Uint32N
	}
	s.sync = s.serveSync
	s.bufs.New = func() any { return new([]byte) }
	s.hold = holder{clock: s.clock, serve: s.serveNow, drop: s.drop, stalled: map[*server.Request]stalledReq{}}

	tc := cfg.Transport
	tc.Handler = s
	tc.Logger = s.log
	tc.Now = s.clock.Now
	start := s.clock.Now()
	if tc.Packet.LocalPID.UTime == 0 {
		tc.Packet.LocalPID.UTime = uint32(start.Unix())
	}
	// The built-ins are answered here, not by tl/rpc/server, so faults
	// reach them; Engine.Stats still feeds server.Stats.
	tc.Engine = server.EngineConfig{Version: cfg.Version, Stats: s.addStats}
	srv, err := server.New(tc)
	if err != nil {
		return nil, fmt.Errorf("engines: %w", err)
	}
	s.srv = srv

	s.tab.byTag = make(map[uint32]*entry)
	b := &builtins{srv: srv, version: cfg.Version, pid: tc.Packet.LocalPID}
	for _, e := range b.entries() {
		_ = s.tab.add(e) // built-in tags are distinct
	}
	if err := s.tab.add(&entry{name: "engine.debugSetFaults", tag: TagDebugSetFaults, call: s.debugSetFaults}); err != nil {
		return nil, err
	}
	for _, f := range cfg.Funcs {
		if f.Call == nil || f.Name == "" {
			return nil, fmt.Errorf("%w: function %q (tag %08x) without name or Call", ErrBadConfig, f.Name, f.Tag)
		}
		call := f.Call
		if err := s.tab.add(&entry{name: f.Name, tag: f.Tag, call: func(_ *server.Request, args, dst []byte) ([]byte, error) {
			return call(args, dst)
		}}); err != nil {
			return nil, err
		}
	}
	if cfg.Faults.active() {
		f := cfg.Faults
		s.faults.Store(&f)
		s.hold.stalling = f.Stall
	}
	return s, nil
}

// Listen listens on addr ("127.0.0.1:0" picks a port) and serves in the
// background until Shutdown or Close; it returns the bound address.
func (s *Server) Listen(addr string) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("engines: listen: %w", err)
	}
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		if err := s.Serve(ln); err != nil {
			s.log.Error("engines: serve failed", "kind", s.kind, "addr", ln.Addr().String(), "reason", err.Error())
		}
	}()
	return ln.Addr(), nil
}

// Serve serves ln until Shutdown or Close (then it returns nil).
func (s *Server) Serve(ln net.Listener) error {
	err := s.srv.Serve(ln)
	if errors.Is(err, server.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown answers what faults hold (delayed requests now, stalled ones
// with GRACEFUL_SHUTDOWN), then shuts the TL RPC server down gracefully:
// rpcServerWantsFin on every connection, requests in flight answered,
// bounded by ctx (then connections are closed and ctx's error returned).
func (s *Server) Shutdown(ctx context.Context) error {
	s.hold.close()
	err := s.srv.Shutdown(ctx)
	s.serving.Wait()
	return err
}

// Close closes everything at once.
func (s *Server) Close() error {
	s.hold.close()
	err := s.srv.Close()
	s.serving.Wait()
	return err
}

// Faults returns the faults in effect.
func (s *Server) Faults() Faults {
	if f := s.faults.Load(); f != nil {
		return *f
	}
	return Faults{}
}

// SetFaults changes the faults at run time. Turning Stall off serves the
// requests it held.
func (s *Server) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	s.faultsMu.Lock()
	old := s.Faults()
	if f.active() {
		s.faults.Store(&f)
	} else {
		s.faults.Store(nil)
	}
	// Under faultsMu, so concurrent SetFaults apply in one order to both.
	s.hold.setStall(f.Stall)
	s.faultsMu.Unlock()
	if old != f {
		s.log.Info("engines: faults changed", "kind", s.kind,
			"latency", f.Latency.String(), "error_rate_ppm", f.ErrorPPM, "stall", f.Stall)
	}
	return nil
}

// ServeRPC implements server.Handler.
func (s *Server) ServeRPC(r *server.Request) {
	f := s.faults.Load()
	if f == nil || isControl(r) {
		s.sync.ServeRPC(r)
		return
	}
	fail := f.ErrorPPM > 0 && s.rand(PPM) < uint32(f.ErrorPPM)
	switch {
	case f.Stall:
		r.Retain()
		switch s.hold.stall(r, fail) {
		case stallOff:
			s.serveNow(r, fail)
		case stallClosed:
			s.drop(r, rpc.CodeGracefulShutdown, "engines: shutting down")
		}
	case f.Latency > 0:
		r.Retain()
		if !s.hold.delay(r, fail, s.clock.Now().Add(f.Latency)) {
			s.serveNow(r, fail)
		}
	default:
		s.serveNow(r, fail)
	}
}

func isControl(r *server.Request) bool {
	tag, ok := r.FunctionTag()
	return ok && tag == TagDebugSetFaults
}

// serveSync is the healthy path: answer at once into the Request's own
// reused buffer.
func (s *Server) serveSync(r *server.Request, dst []byte) ([]byte, error) {
	return s.tab.dispatch(r, dst)
}

// serveNow answers a request faults have held (or marked to fail), into a
// pooled buffer since the Request's own is not reachable from here.
func (s *Server) serveNow(r *server.Request, fail bool) {
	if fail {
		s.injected.Add(1)
		r.ReplyError(InjectedErrorCode, "engines: injected fault")
		return
	}
	bp := s.bufs.Get().(*[]byte)
	out, err := s.tab.dispatch(r, (*bp)[:0])
	if err != nil {
		r.ReplyErr(err)
	} else {
		r.Reply(out)
	}
	if cap(out) <= 64<<10 {
		*bp = out[:0]
		s.bufs.Put(bp)
	}
}

func (s *Server) drop(r *server.Request, code int32, text string) { r.ReplyError(code, text) }

// addStats is server.EngineConfig.Stats: the engine's counters.
func (s *Server) addStats(add func(k, v string)) {
	add("engine", s.kind)
	s.tab.stats(add)
	s.Faults().stats(add)
	add("fault_injected_errors", strconv.FormatInt(s.injected.Load(), 10))
	delayed, stalled := s.hold.counts()
	add("fault_delayed_requests", strconv.Itoa(delayed))
	add("fault_stalled_requests", strconv.Itoa(stalled))
	if s.stats != nil {
		s.stats(add)
	}
}

// Stats returns what engine.stat answers.
func (s *Server) Stats() map[string]string { return s.srv.Stats(nil) }
