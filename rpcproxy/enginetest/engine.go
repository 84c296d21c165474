package enginetest

import (
	"encoding/binary"
	"net"
	"sync"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// TagEnginePid is engine.pid.
const TagEnginePid uint32 = 0x559d6e36

// Request is one message the engine received, copied.
type Request struct {
	Type uint32
	Raw  []byte        // the message body as received
	Req  rpc.InvokeReq // parsed from Raw, for rpcInvokeReq
	conn *conn
}

// Function returns the called function's tag.
func (r *Request) Function() uint32 {
	tag, _ := r.Req.FunctionTag()
	return tag
}

// Reply is what a Handler wants done with a request.
type Reply struct {
	Hold    bool   // answer only on Release
	Drop    bool   // never answer
	Hangup  bool   // close the connection instead of answering (a crash)
	Result  []byte // the result payload; nil means the default echo
	ErrCode int32  // non-zero: answer this error instead
	ErrText string
}

// Server is a fake engine. Set Handler before the first request arrives.
type Server struct {
	Addr    string
	Handler func(r *Request) Reply
	// Requests receives every message received (buffered; a full channel
	// drops the notification, never blocks the engine).
	Requests chan Request

	ln    net.Listener
	mu    sync.Mutex
	log   []Request
	held  []Request
	conns map[*conn]struct{}
	wg    sync.WaitGroup
}

type conn struct {
	pc *packet.Conn
	mu sync.Mutex
}

// Start listens on 127.0.0.1:0 and serves until Close.
func Start() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return StartOn(ln), nil
}

// StartOn serves on ln until Close.
func StartOn(ln net.Listener) *Server {
	s := &Server{Addr: ln.Addr().String(), ln: ln, Requests: make(chan Request, 1024), conns: map[*conn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	return s
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go s.serve(nc)
	}
}

func (s *Server) serve(nc net.Conn) {
	defer s.wg.Done()
	pc, err := packet.ServerHandshake(nc, packet.Config{})
	if err != nil {
		nc.Close()
		return
	}
	c := &conn{pc: pc}
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		pc.Close()
	}()
	for {
		typ, body, err := pc.ReadPacket()
		if err != nil {
			return
		}
		r := Request{Type: typ, Raw: append([]byte(nil), body...), conn: c}
		if typ == rpc.TypeInvokeReq {
			if err := rpc.ParseInvokeReq(r.Raw, &r.Req); err != nil {
				continue
			}
		}
		rep := Reply{}
		if typ == rpc.TypeInvokeReq && s.Handler != nil {
			rep = s.Handler(&r)
		}
		hold := typ == rpc.TypeInvokeReq && rep.Hold && !rep.Hangup && !rep.Drop
		// Logged (and held) before anyone hears of it, so a test that saw
		// the request can Release it.
		s.mu.Lock()
		s.log = append(s.log, r)
		if hold {
			s.held = append(s.held, r)
		}
		s.mu.Unlock()
		select {
		case s.Requests <- r:
		default:
		}
		switch {
		case typ != rpc.TypeInvokeReq || hold || rep.Drop:
		case rep.Hangup:
			return
		default:
			s.answer(&r, rep)
		}
	}
}

// answer writes the reply to r.
func (s *Server) answer(r *Request, rep Reply) {
	var body []byte
	body = tl.AppendInt64(body, r.Req.QueryID)
	switch {
	case rep.ErrCode != 0:
		body = rpc.AppendErrorBody(body, r.Req.QueryID, rep.ErrCode, rep.ErrText)
	case rep.Result != nil:
		body = append(body, rep.Result...)
	case r.Function() == TagEnginePid:
		body = tl.AppendUint32(body, 0xcf9c4046)
		body = append(body, make([]byte, 12)...)
	default:
		body = append(body, Echo(s.Addr, r.Req.Body)...)
	}
	r.conn.mu.Lock()
	_ = r.conn.pc.WritePacket(rpc.TypeReqResult, nil, body)
	r.conn.mu.Unlock()
}

// Echo is the default result: the engine's address as a TL string, then the
// function call it received.
func Echo(addr string, call []byte) []byte {
	return append(tl.AppendString(nil, addr), call...)
}

// Release answers every held request with the default echo.
func (s *Server) Release() {
	s.mu.Lock()
	held := s.held
	s.held = nil
	s.mu.Unlock()
	for i := range held {
		s.answer(&held[i], Reply{})
	}
}

// Log returns every message received so far.
func (s *Server) Log() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// Invokes returns the rpcInvokeReq messages received so far, except probes.
func (s *Server) Invokes() []Request {
	var out []Request
	for _, r := range s.Log() {
		if r.Type == rpc.TypeInvokeReq && r.Function() != TagEnginePid {
			out = append(out, r)
		}
	}
	return out
}

// SendServerWantsFin tells every client connection the engine is leaving.
func (s *Server) SendServerWantsFin() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.mu.Lock()
		_ = c.pc.WritePacket(rpc.TypeServerWantsFin, nil, nil)
		c.mu.Unlock()
	}
}

// Close stops listening, drops every connection and waits for its
// goroutines.
func (s *Server) Close() {
	_ = s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.pc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// QueryID returns the query id at the start of a result or request body.
func QueryID(body []byte) int64 {
	if len(body) < 8 {
		return 0
	}
	return int64(binary.LittleEndian.Uint64(body))
}
