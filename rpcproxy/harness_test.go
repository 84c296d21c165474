package rpcproxy

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rpcproxy/rpcproxy/configs"
	"github.com/rpcproxy/rpcproxy/rpcproxy/enginetest"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	mainListen  = "127.0.0.1:19300"
	adminListen = "127.0.0.1:19301"
	memcacheTL  = "../engines/memcache/memcache.tl"
)

// startEngines starts n fake engines, closed at cleanup.
func startEngines(t *testing.T, n int) []*enginetest.Server {
	t.Helper()
	var out []*enginetest.Server
	for range n {
		e, err := enginetest.Start()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.Close)
		out = append(out, e)
	}
	return out
}

// deadAddr returns a loopback address nothing listens on.
//
// The port is held by a socket bound but not listening, until the test
// ends: a connect gets RST at once, and no other listener, nor a dial's own
// source port (which would connect to itself), can take the port meanwhile,
// as they could a port merely closed.
func deadAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
}

// parseConfig parses TOML text; schemas resolve against this directory.
func parseConfig(t *testing.T, text string) *configs.Config {
	t.Helper()
	cfg, err := configs.Parse("test.toml", []byte(text), ".")
	if err != nil {
		t.Fatalf("config: %v\n%s", err, text)
	}
	return cfg
}

// proxyHeader is the [proxy] table every test config starts with.
// headerTimeout is proxyHeader's timeout. It is long: tests that hold an
// answer must not see it expire however slow the machine is; tests of
// timeouts set their own.
const headerTimeout = time.Minute

func proxyHeader() string {
	return fmt.Sprintf("[proxy]\nlisten = %q\nadmin = %q\ntimeout = %q\nschemas = [%q]\n", mainListen, adminListen, headerTimeout.String(), memcacheTL)
}

// listenLog opens every listener on 127.0.0.1:0 and logs the configured
// addresses it was asked for.
type listenLog struct {
	mu    sync.Mutex
	asked []string
}

func (l *listenLog) Listen(network, addr string) (net.Listener, error) {
	l.mu.Lock()
	l.asked = append(l.asked, addr)
	l.mu.Unlock()
	return net.Listen(network, "127.0.0.1:0")
}

// dialLog counts dials per address.
type dialLog struct {
	mu    sync.Mutex
	dials map[string]int
}

func (d *dialLog) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	if d.dials == nil {
		d.dials = map[string]int{}
	}
	d.dials[addr]++
	d.mu.Unlock()
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

func (d *dialLog) count(addr string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dials[addr]
}

// testProxy is a proxy serving in the background.
type testProxy struct {
	*Proxy
	dials  *dialLog
	served chan error
}

func startProxy(t *testing.T, cfg *configs.Config, o Options) *testProxy {
	t.Helper()
	ll := &listenLog{}
	dl := &dialLog{}
	o.Listen = ll.Listen
	o.Dial = dl.Dial
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Tick == 0 {
		o.Tick = time.Millisecond
	}
	p, err := New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	tp := &testProxy{Proxy: p, dials: dl, served: make(chan error, 1)}
	go func() { tp.served <- p.Serve(context.Background()) }()
	t.Cleanup(func() {
		p.Close()
		select {
		case <-tp.served:
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
	return tp
}

// addr returns the real address of the listener configured at listen.
func (tp *testProxy) addr(t *testing.T, listen string) string {
	t.Helper()
	a := tp.Addr(netip.MustParseAddrPort(listen))
	if a == nil {
		t.Fatalf("no listener for %s", listen)
	}
	return a.String()
}

// app is a raw TL RPC client: it writes exactly the envelope it is given
// and reports every message it receives.
type app struct {
	pc   *packet.Conn
	msgs chan message
	done chan struct{}
}

type message struct {
	typ  uint32
	body []byte
}

func dialApp(t *testing.T, addr string) *app {
	t.Helper()
	a := &app{pc: dialPacket(t, addr), msgs: make(chan message, 4096), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for {
			typ, body, err := a.pc.ReadPacket()
			if err != nil {
				close(a.msgs)
				return
			}
			a.msgs <- message{typ, append([]byte(nil), body...)}
		}
	}()
	t.Cleanup(a.close)
	return a
}

func (a *app) close() {
	a.pc.Close()
	<-a.done
}

func (a *app) send(t *testing.T, req *rpc.InvokeReq) {
	t.Helper()
	if err := a.pc.WritePacket(rpc.TypeInvokeReq, rpc.AppendInvokeReqHeader(nil, req), req.Body); err != nil {
		t.Fatal(err)
	}
}

// next returns the next message, failing after 5 s.
func (a *app) next(t *testing.T) message {
	t.Helper()
	select {
	case m, ok := <-a.msgs:
		if !ok {
			t.Fatal("app connection closed")
		}
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no message from the proxy")
	}
	return message{}
}

// result reads the next message as a result.
func (a *app) result(t *testing.T) rpc.ReqResult {
	t.Helper()
	m := a.next(t)
	var res rpc.ReqResult
	if err := rpc.ParseResult(m.typ, m.body, &res); err != nil {
		t.Fatalf("message %08x %x: %v", m.typ, m.body, err)
	}
	return res
}

// call sends req and waits for its result.
func (a *app) call(t *testing.T, req *rpc.InvokeReq) rpc.ReqResult {
	t.Helper()
	a.send(t, req)
	res := a.result(t)
	if res.QueryID != req.QueryID {
		t.Fatalf("answer for query %d, want %d", res.QueryID, req.QueryID)
	}
	return res
}

// wantError checks res is an error with code and text containing substr.
func wantError(t *testing.T, res rpc.ReqResult, code int32, substr string) {
	t.Helper()
	if !res.IsError() || res.ErrorCode != code || !strings.Contains(string(res.ErrorText), substr) {
		t.Fatalf("got error=%v code %d %q; want code %d containing %q", res.IsError(), res.ErrorCode, res.ErrorText, code, substr)
	}
}

// memcacheSchema loads the memcache schema.
func memcacheSchema(t *testing.T) *schema.Schema {
	t.Helper()
	s, err := schema.LoadWithPrelude(memcacheTL)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Tags of the memcache schema; TestTags checks them against the schema.
const (
	tagMemcacheGet      uint32 = 0xd33b13ae
	tagMemcacheGetMulti uint32 = 0x9b4978d9
)

func TestTags(t *testing.T) {
	s := memcacheSchema(t)
	if got := s.Function("memcache.get").Tag; got != tagMemcacheGet {
		t.Errorf("memcache.get tag %#08x", got)
	}
	if got := s.Function("memcache.getMulti").Tag; got != tagMemcacheGetMulti {
		t.Errorf("memcache.getMulti tag %#08x", got)
	}
}

// getCall is memcache.get key.
func getCall(t *testing.T, key string) []byte {
	t.Helper()
	return tl.AppendString(tl.AppendUint32(nil, tagMemcacheGet), key)
}

// waitFor waits up to 5 s for cond, checking every millisecond.
func waitFor(t *testing.T, what string, cond func() bool) {
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

// engineQID is the query id of a request the engine received.
func engineQID(r enginetest.Request) int64 { return int64(binary.LittleEndian.Uint64(r.Raw)) }

// nextInvoke waits for the next rpcInvokeReq (not a probe) an engine gets.
func nextInvoke(t *testing.T, e *enginetest.Server) enginetest.Request {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case r := <-e.Requests:
			if r.Type == rpc.TypeInvokeReq && r.Function() != enginetest.TagEnginePid {
				return r
			}
		case <-deadline:
			t.Fatalf("engine %s got no request", e.Addr)
		}
	}
}

func mustAddr(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func configsLoad(path string) (*configs.Config, error) { return configs.Load(path) }

// getCallB is getCall for benchmarks.
func getCallB(key string) []byte { return tl.AppendString(tl.AppendUint32(nil, tagMemcacheGet), key) }

func configsParse(text string) (*configs.Config, error) {
	return configs.Parse("bench.toml", []byte(text), ".")
}

// dialSilent connects an app that never reads its socket, so its answers
// back up in the kernel and then in the proxy.
func dialSilent(t *testing.T, addr string) *packet.Conn { return dialSilentBuffer(t, addr, 0) }

// dialSilentBuffer is dialSilent with a receive buffer of rcvbuf bytes
// (0: the kernel's), so that the kernel soon holds no more answers for
// an app that does not read.
func dialSilentBuffer(t *testing.T, addr string, rcvbuf int) *packet.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if rcvbuf > 0 {
		if err := nc.(*net.TCPConn).SetReadBuffer(rcvbuf); err != nil {
			t.Fatal(err)
		}
	}
	pc, err := packet.ClientHandshake(nc, packet.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}
