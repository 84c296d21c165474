package memcache

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/server"
	"github.com/rpcproxy/rpcproxy/tl/rpc/udp"
)

// FakeConfig configures a Fake. The zero value answers every request.
type FakeConfig struct {
	// ErrorEvery, if positive, answers every ErrorEvery-th request
	// (counted over the Fake, 1-based) with ErrorCode instead, so tests
	// know exactly how many errors a run of N requests gets.
	ErrorEvery int64
	ErrorCode  int32
	// BinlogPos is answered in the result extra when a request asks for
	// it (return_binlog_pos), so tests can see result extras travel.
	BinlogPos int64
	// UDPKey, if set (>= 32 bytes), makes the Fake serve over VK's UDP
	// transport (tl/rpc/udp) on 127.0.0.1:0 instead of TCP.
	UDPKey []byte
}

// Seen is what the Fake saw in the envelope of the last request.
type Seen struct {
	ActorID int64
	Flags   uint32
	Extra   rpc.InvokeReqExtra // byte fields are copies
}

// Fake is an in-memory memcache engine (get, set, getMulti) on a
// tl/rpc/server listening on 127.0.0.1:0. Unknown functions get
// UNKNOWN_FUNCTION_ID (-2000).
type Fake struct {
	cfg    FakeConfig
	srv    *server.Server
	ln     net.Listener
	udp    *udp.Transport // UDP mode: srv and ln are nil
	wg     sync.WaitGroup // UDP mode: the accept loop and connection readers
	served chan struct{}
	reqs   atomic.Int64

	mu   sync.Mutex
	data map[string][]byte
	seen Seen
}

// StartFake starts a Fake; Close stops it.
func StartFake(cfg FakeConfig) (*Fake, error) {
	f := &Fake{cfg: cfg, data: make(map[string][]byte), served: make(chan struct{})}
	if cfg.UDPKey != nil {
		return f, f.startUDP()
	}
	srv, err := server.New(server.Config{Handler: f})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f.srv, f.ln = srv, ln
	go func() {
		_ = srv.Serve(ln) // ErrServerClosed after Close
		close(f.served)
	}()
	return f, nil
}

// Addr is the address the Fake listens on.
func (f *Fake) Addr() string {
	if f.udp != nil {
		return f.udp.LocalAddr().String()
	}
	return f.ln.Addr().String()
}

// Requests is the number of requests answered so far.
func (f *Fake) Requests() int64 { return f.reqs.Load() }

// Len is the number of keys stored.
func (f *Fake) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.data)
}

// Last returns the envelope of the last request.
func (f *Fake) Last() Seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen
}

var _ server.Handler = (*Fake)(nil)

// Close stops the server and waits for its goroutines.
func (f *Fake) Close() {
	if f.udp != nil {
		_ = f.udp.Close() // ends Accept and every connection
		f.wg.Wait()
		return
	}
	_ = f.srv.Close()
	<-f.served
}

func (f *Fake) serve(r *server.Request, dst []byte) ([]byte, error) {
	return f.call(r.ActorID, &r.Extra, r.Body, dst)
}

// call records the envelope and answers body into dst.
func (f *Fake) call(actor int64, extra *rpc.InvokeReqExtra, body, dst []byte) ([]byte, error) {
	n := f.reqs.Add(1)
	f.mu.Lock()
	f.seen = Seen{ActorID: actor, Flags: extra.Flags, Extra: *extra}
	f.seen.Extra.StringForward = append([]byte(nil), extra.StringForward...)
	f.seen.Extra.StringForwardKeys = rpc.StringVector{}
	f.seen.Extra.IntForwardKeys = rpc.LongVector{}
	f.seen.Extra.WaitShardsBinlogPos = rpc.LongDictionary{}
	f.seen.Extra.TraceContext.SourceID = nil
	f.seen.Extra.ExecutionContext = append([]byte(nil), extra.ExecutionContext...)
	f.mu.Unlock()
	if f.cfg.ErrorEvery > 0 && n%f.cfg.ErrorEvery == 0 {
		return dst, &rpc.Error{Code: f.cfg.ErrorCode, Description: fmt.Sprintf("fake error for request %d", n)}
	}
	out, err := f.answer(body, dst)
	var re *rpc.Error
	if err != nil && !errors.As(err, &re) {
		err = &rpc.Error{Code: rpc.CodeSyntax, Description: "fake memcache: " + err.Error()}
	}
	return out, err
}

// ServeRPC answers through serve; a request that asks for its binlog
// position gets it in the result extra, which SyncFunc cannot attach.
func (f *Fake) ServeRPC(r *server.Request) {
	if r.Extra.Flags&rpc.FlagReturnBinlogPos == 0 {
		server.SyncFunc(f.serve).ServeRPC(r)
		return
	}
	out, err := f.serve(r, nil)
	if err != nil {
		r.ReplyErr(err)
		return
	}
	r.ReplyWithExtra(&rpc.ResultExtra{Flags: rpc.ResultFlagBinlogPos, BinlogPos: f.cfg.BinlogPos}, out)
}

func (f *Fake) answer(body, dst []byte) ([]byte, error) {
	tag, r, err := tl.ReadUint32(body)
	if err != nil {
		return dst, err
	}
	switch tag {
	case TagGet:
		key, _, err := tl.ReadBytes(r)
		if err != nil {
			return dst, err
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		return appendValue(dst, f.data, key), nil
	case TagSet:
		key, r, err := tl.ReadBytes(r)
		if err != nil {
			return dst, err
		}
		if len(r) < 8 {
			return dst, tl.ErrTruncated
		}
		val, _, err := tl.ReadBytes(r[8:])
		if err != nil {
			return dst, err
		}
		f.mu.Lock()
		f.data[string(key)] = append([]byte(nil), val...)
		f.mu.Unlock()
		return tl.AppendBool(dst, true), nil
	case TagGetMulti:
		n, r, err := tl.ReadCount(r, 4)
		if err != nil {
			return dst, err
		}
		dst = tl.AppendUint32(tl.AppendUint32(dst, tl.TagVector), uint32(n))
		f.mu.Lock()
		defer f.mu.Unlock()
		for range n {
			var key []byte
			if key, r, err = tl.ReadBytes(r); err != nil {
				return dst, err
			}
			dst = appendValue(dst, f.data, key)
		}
		return dst, nil
	}
	return dst, &rpc.Error{Code: rpc.CodeUnknownFunctionID, Description: fmt.Sprintf("fake memcache: unknown function %#08x", tag)}
}

func appendValue(dst []byte, data map[string][]byte, key []byte) []byte {
	v, ok := data[string(key)]
	if !ok {
		return tl.AppendUint32(dst, TagNotFound)
	}
	return tl.AppendInt32(tl.AppendBytes(tl.AppendUint32(dst, TagStrValue), v), 0)
}
