package engines

import (
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
	"github.com/rpcproxy/rpcproxy/tl/rpc/server"
)

// Func is one function an engine serves.
type Func struct {
	// Name is the TL name ("memcache.get"), used in stats and errors.
	Name string
	// Tag is the function's wire tag.
	Tag uint32
	// Call decodes args (the request body after the tag), which alias the
	// request buffer and must be copied if kept, and appends the boxed
	// result to dst. It runs on a connection's reader goroutine (or a
	// fault timer's), so it must not block. Errors are mapped to TL
	// errors by the server: ErrSyntax and the tl reader errors are
	// TL_ERROR_SYNTAX, ErrExtraData is EXTRA_DATA, an *rpc.Error is sent
	// as is.
	Call func(args, dst []byte) ([]byte, error)
}

// Tags of the built-in functions (tl.md §8.2) and of the control function
// in engine.tl.
const (
	TagEnginePID     uint32 = 0x559d6e36 // engine.pid = net.Pid
	TagEngineVersion uint32 = 0x1a2e06fa // engine.version = String
	TagEngineStat    uint32 = 0xefb3c36b // engine.stat = Stat
	// TagDebugSetFaults is engine.debugSetFaults latency_ms:int
	// error_rate_ppm:int stall:Bool = True (engine.tl), checked against
	// the schema package in a test.
	TagDebugSetFaults uint32 = 0x65918789
)

// entry is a Func in the dispatch table, with its counters. Built-ins
// need the request (for the local address), so every entry takes it.
type entry struct {
	name   string
	tag    uint32
	call   func(r *server.Request, args, dst []byte) ([]byte, error)
	calls  atomic.Int64
	errors atomic.Int64
}

// table maps tags to entries; it is built once in New and never changes,
// so lookups need no lock.
type table struct {
	byTag   map[uint32]*entry
	ordered []*entry // declaration order, for stats
	unknown atomic.Int64
}

func (t *table) add(e *entry) error {
	if _, dup := t.byTag[e.tag]; dup {
		return fmt.Errorf("%w: function %s: tag %08x already used", ErrBadConfig, e.name, e.tag)
	}
	t.byTag[e.tag] = e
	t.ordered = append(t.ordered, e)
	return nil
}

// dispatch runs the function the request calls and appends its boxed
// result to dst; errors come back as *rpc.Error.
func (t *table) dispatch(r *server.Request, dst []byte) ([]byte, error) {
	tag, args, err := tl.ReadUint32(r.Body)
	if err != nil {
		return dst, &rpc.Error{Code: rpc.CodeSyntax, Description: "engines: request without function tag"}
	}
	e := t.byTag[tag]
	if e == nil {
		t.unknown.Add(1)
		// VK's Go server words it this way; clients grep for it.
		return dst, &rpc.Error{Code: rpc.CodeUnknownFunctionID, Description: fmt.Sprintf("RPC handler for #%08x not found", tag)}
	}
	e.calls.Add(1)
	out, err := e.call(r, args, dst)
	if err != nil {
		e.errors.Add(1)
		return dst, errorOf(e.name, err)
	}
	return out, nil
}

func (t *table) stats(add func(k, v string)) {
	var errs int64
	for _, e := range t.ordered {
		n := e.errors.Load()
		errs += n
		add("calls."+e.name, strconv.FormatInt(e.calls.Load(), 10))
		add("errors."+e.name, strconv.FormatInt(n, 10))
	}
	add("errors_total", strconv.FormatInt(errs, 10))
	add("unknown_functions", strconv.FormatInt(t.unknown.Load(), 10))
}

// builtins answers engine.pid, engine.version and engine.stat. The engine
// answers them itself instead of letting tl/rpc/server do it, so that
// fault injection covers them too: a stalled engine must look dead to
// engine.pid health checks, as a hung VK engine does.
type builtins struct {
	srv     *server.Server
	version string
	pid     packet.PID // as configured; zero fields filled per connection
}

func (b *builtins) entries() []*entry {
	return []*entry{
		{name: "engine.pid", tag: TagEnginePID, call: b.enginePID},
		{name: "engine.version", tag: TagEngineVersion, call: b.engineVersion},
		{name: "engine.stat", tag: TagEngineStat, call: b.engineStat},
	}
}

// enginePID answers net.pid ip port_pid utime with the values the
// handshake sent as SenderPID: the configured packet.Config.LocalPID with
// its zero fields filled as tl/rpc/packet fills them (IPv4 and port of
// the local address, the low 16 bits of the process id; New sets UTime to
// the start time).
func (b *builtins) enginePID(r *server.Request, args, dst []byte) ([]byte, error) {
	if err := End(args); err != nil {
		return dst, err
	}
	p := b.pid
	if a, ok := r.LocalAddr().(*net.TCPAddr); ok {
		if ip4 := a.IP.To4(); ip4 != nil && p.IP == 0 {
			p.IP = uint32(ip4[0])<<24 | uint32(ip4[1])<<16 | uint32(ip4[2])<<8 | uint32(ip4[3])
		}
		if p.Port() == 0 {
			p.PortPID |= uint32(uint16(a.Port))
		}
	}
	if p.ProcessID() == 0 {
		p.PortPID |= uint32(uint16(os.Getpid())) << 16
	}
	dst = tl.AppendUint32(dst, tl.TagNetPid)
	dst = tl.AppendUint32(dst, p.IP)
	dst = tl.AppendUint32(dst, p.PortPID)
	return tl.AppendUint32(dst, p.UTime), nil
}

func (b *builtins) engineVersion(_ *server.Request, args, dst []byte) ([]byte, error) {
	if err := End(args); err != nil {
		return dst, err
	}
	dst = tl.AppendUint32(dst, tl.TagString)
	return tl.AppendString(dst, b.version), nil
}

// engineStat answers Stat (a Dictionary string, keys sorted): the server's
// counters and the engine's own (server.Config.Engine.Stats).
func (b *builtins) engineStat(r *server.Request, args, dst []byte) ([]byte, error) {
	if err := End(args); err != nil {
		return dst, err
	}
	m := b.srv.Stats(r.LocalAddr())
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = tl.AppendUint32(dst, tl.TagStat)
	dst = tl.AppendUint32(dst, uint32(len(keys)))
	for _, k := range keys {
		dst = tl.AppendString(dst, k)
		dst = tl.AppendString(dst, m[k])
	}
	return dst, nil
}
