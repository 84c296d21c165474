package server

import (
	"net"
	"sync/atomic"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

// keepBuf: a pooled Request drops its buffers grown past this, so one huge
// request does not pin memory in the pool forever.
const keepBuf = 64 << 10

// Request is one rpcInvokeReq being served. It comes from a pool and is
// reused after it is answered: the handler must not touch it after its one
// reply. The embedded rpc.InvokeReq holds QueryID, ActorID, Extra, TL2 and
// Body (the function call, tag first).
//
// Lifetime of the bytes: Body and the byte fields of Extra alias the
// connection's read buffer and are valid only until ServeRPC returns,
// unless the handler calls Retain during ServeRPC. Scalar fields (QueryID,
// ActorID, Extra.Flags, CustomTimeoutMs...) stay valid until the reply. A
// proxy forwards Body during ServeRPC (the upstream write copies it) and
// keeps the Request only to answer later, so nothing is copied twice.
type Request struct {
	rpc.InvokeReq

	conn     *conn
	raw      []byte // the rpcInvokeReq body InvokeReq was parsed from
	owned    []byte // Retain's copy of raw; reused
	head     []byte // reply header scratch; reused
	out      []byte // SyncFunc and built-in results; reused
	deadline time.Time
	weight   int64
	retained bool

	// refs counts the parties that may still touch the Request: the
	// reader (until ServeRPC returns) and the reply (until it has written
	// and released). The last one recycles it.
	refs  atomic.Int32
	flags atomic.Uint32
}

const (
	flagReplied uint32 = 1 << iota
	flagServed         // ServeRPC has returned: Body no longer valid
)

// ConnID identifies the connection the request came on, unique per Server.
func (r *Request) ConnID() uint64 { return r.conn.id }

// RemoteAddr is the client's address.
func (r *Request) RemoteAddr() net.Addr { return r.conn.pc.RemoteAddr() }

// LocalAddr is the address the request arrived at.
func (r *Request) LocalAddr() net.Addr { return r.conn.pc.LocalAddr() }

// PeerPID is the client's SenderPID from its handshake.
func (r *Request) PeerPID() packet.PID { return r.conn.pc.PeerPID() }

// Deadline is the arrival time plus custom_timeout_ms, or plus
// Config.DefaultTimeout when the request has none; ok is false when
// neither applies. The server does not enforce it: a handler that misses
// it should answer rpc.CodeQueryTimeout (ReplyErr(context.DeadlineExceeded)).
func (r *Request) Deadline() (deadline time.Time, ok bool) {
	return r.deadline, !r.deadline.IsZero()
}

// Retain copies the request bytes into a buffer owned by the Request (and
// reused with it), so Body and Extra stay valid until the reply. It must
// be called during ServeRPC, before the handler changes any field (the
// copy is parsed afresh); later calls do nothing but log.
func (r *Request) Retain() {
	if r.retained {
		return
	}
	if r.flags.Load()&flagServed != 0 {
		// The read buffer may already hold the next packet: copying it
		// now would race with the reader. Refuse loudly instead.
		r.conn.srv.log.Error("rpc/server: Retain after ServeRPC returned ignored; Body is no longer valid",
			"query_id", r.QueryID, "conn", r.conn.id)
		return
	}
	r.retained = true
	r.owned = append(r.owned[:0], r.raw...)
	qid := r.QueryID
	// The copy parses exactly as the original did.
	_ = rpc.ParseInvokeReq(r.owned, &r.InvokeReq)
	r.QueryID = qid
	r.raw = r.owned
}

// Reply answers with a boxed result (function result tag first). result
// is copied before Reply returns. Exactly one reply per request: later
// ones are ignored and logged, as long as the Request has not been reused.
// Reply blocks while the connection has packet.Config.WriteBufferLimit
// bytes pending (a client that does not read), at most until the write
// times out and the connection closes; TryReplyResult never blocks.
func (r *Request) Reply(result []byte) { r.reply(nil, result, false, 0, "") }

// ReplyWithExtra answers with a result and a result extra; only the extra
// fields the request asked for (its Extra.Flags) are sent.
func (r *Request) ReplyWithExtra(extra *rpc.ResultExtra, result []byte) {
	r.reply(extra, result, false, 0, "")
}

// ReplyResult answers with an upstream engine's parsed answer, as a proxy
// does: its extra (masked by this request's flags), then its result or
// its error in the form every client parses. The result body is copied
// once, into the connection's pending buffer; an error's text is
// converted to a string first (errors are not the hot path).
func (r *Request) ReplyResult(res *rpc.ReqResult) {
	var extra *rpc.ResultExtra
	if res.HasExtra {
		extra = &res.Extra
	}
	if res.IsError() {
		r.reply(extra, nil, true, res.ErrorCode, string(res.ErrorText))
		return
	}
	r.reply(extra, res.Body, false, 0, "")
}

// ReplyError answers with an error (code 0 is sent as rpc.CodeUnknown).
func (r *Request) ReplyError(code int32, text string) { r.reply(nil, nil, true, code, text) }

// ReplyErr answers with err mapped to a TL error by rpc.ErrorOf.
func (r *Request) ReplyErr(err error) {
	e := rpc.ErrorOf(err)
	r.reply(nil, nil, true, e.Code, e.Description)
}

// TryReplyResult is ReplyResult that never waits for the client: when the
// connection already has packet.Config.WriteBufferLimit bytes pending (a
// client that does not read its answers) it writes nothing and returns
// false, and the request is still unanswered; the caller then decides,
// typically CloseConn followed by a reply (which writes nothing). On a
// closed connection it returns true, like a reply that writes nothing.
func (r *Request) TryReplyResult(res *rpc.ReqResult) bool { return r.TryReplyResultIn(nil, res) }

// TryReplyResultIn is TryReplyResult whose write b may hold back until
// b.Flush (see packet.Batch): a proxy's engine reader answering a burst of
// answers passes its own batch.
func (r *Request) TryReplyResultIn(b *packet.Batch, res *rpc.ReqResult) bool {
	var extra *rpc.ResultExtra
	if res.HasExtra {
		extra = &res.Extra
	}
	m := writeMode{try: true, batch: b}
	if res.IsError() {
		return r.send(extra, nil, true, res.ErrorCode, string(res.ErrorText), m)
	}
	return r.send(extra, res.Body, false, 0, "", m)
}

// Batch is the batch of the connection's reader goroutine: writes a
// handler makes during ServeRPC (a proxy forwarding the request) may be
// held back in it until the reader has no whole packet buffered, so a
// pipelined burst is forwarded with one syscall. Only for writes made on
// the reader goroutine, during ServeRPC.
func (r *Request) Batch() *packet.Batch { return &r.conn.batch }

// replyOnReader is reply for handlers answering during ServeRPC on the
// reader goroutine (SyncFunc): the write joins the reader's batch.
func (r *Request) replyOnReader(result []byte, isErr bool, code int32, text string) {
	r.send(nil, result, isErr, code, text, writeMode{batch: &r.conn.batch})
}

// TryReplyErr is ReplyErr that never waits, as TryReplyResult, except
// that it still queues when the pending writes are up to 256 KiB over the
// limit: a handler replacing answers it cannot queue by short errors can
// tell the client so, in order.
func (r *Request) TryReplyErr(err error) bool {
	e := rpc.ErrorOf(err)
	return r.tryReply(nil, nil, true, e.Code, e.Description)
}

// CloseConn closes the request's connection at once, dropping answers not
// yet written; the client sees the connection end. Requests still held on
// it must be replied to as usual (their replies write nothing). A handler
// uses it for a client that does not read its answers (TryReplyResult
// false) instead of waiting for it.
func (r *Request) CloseConn() {
	c := r.conn
	c.srv.log.Info("rpc/server: connection closed by the handler", "conn", c.id, "remote", c.pc.RemoteAddr())
	_ = c.pc.Close()
}

// SetConnValue keeps v with the request's connection, for the handler's
// per-connection state (a proxy's table of calls to cancel), so a handler
// needs no shared map of connections. Like ConnValue it is for the
// connection's reader goroutine only: during ServeRPC and CancelRPC.
func (r *Request) SetConnValue(v any) { r.conn.value = v }

// ConnValue is what SetConnValue stored on this connection, or nil.
func (r *Request) ConnValue() any { return r.conn.value }

func (r *Request) reply(extra *rpc.ResultExtra, result []byte, isErr bool, code int32, text string) {
	r.send(extra, result, isErr, code, text, writeMode{})
}

func (r *Request) tryReply(extra *rpc.ResultExtra, result []byte, isErr bool, code int32, text string) bool {
	return r.send(extra, result, isErr, code, text, writeMode{try: true})
}

// send writes the one reply and releases the request; with try it gives
// up, leaving the request unanswered, when the connection is full.
func (r *Request) send(extra *rpc.ResultExtra, result []byte, isErr bool, code int32, text string, m writeMode) bool {
	if r.flags.Or(flagReplied)&flagReplied != 0 {
		r.conn.srv.log.Warn("rpc/server: second reply ignored",
			"query_id", r.QueryID, "conn", r.conn.id, "remote", r.conn.pc.RemoteAddr())
		return true
	}
	c := r.conn
	if !r.Extra.NoResult() {
		if !c.writeResult(r, extra, result, isErr, code, text, m) {
			r.flags.And(^flagReplied)
			return false
		}
	}
	c.release(r)
	r.unref()
	return true
}

// unref drops one reference; the last one puts the Request back.
func (r *Request) unref() {
	if r.refs.Add(-1) == 0 {
		r.conn.srv.putRequest(r)
	}
}

func (r *Request) reset() {
	r.InvokeReq = rpc.InvokeReq{}
	r.conn = nil
	r.raw = nil
	r.deadline = time.Time{}
	r.weight = 0
	r.retained = false
	r.flags.Store(0)
	if cap(r.owned) > keepBuf {
		r.owned = nil
	}
	if cap(r.head) > keepBuf {
		r.head = nil
	}
	if cap(r.out) > keepBuf {
		r.out = nil
	}
}
