package client

import (
	"fmt"
	"math"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// Request is one call. The Client never modifies it and never keeps a
// reference after Do or Go returns, so a caller may reuse it at once.
type Request struct {
	// ActorID is sent in rpcDestActor / rpcDestActorFlags; 0 = none.
	ActorID int64
	// Extra is the rpcInvokeReqExtra. Its custom_timeout_ms, if set, is
	// the explicit timeout (wire.md §4.6); the sent value may be lowered
	// to the deadline. FlagNoResult makes a fire-and-forget call.
	Extra rpc.InvokeReqExtra
	// TL2 marks a TL2 body; the answer must then carry the TL2 marker.
	TL2 bool
	// Body is the function call, its tag first.
	Body []byte
	// Header, if not nil, is a pre-built header chain (everything between
	// query_id and Body, possibly empty but non-nil) sent verbatim instead
	// of one built from ActorID, Extra and TL2: the proxy forwards an
	// envelope it has already written. The Client then reads only the
	// no_result bit of Extra.Flags and TL2, and leaves custom_timeout_ms
	// as the header has it; the local deadline is still computed from
	// Extra's custom_timeout_ms, the deadline and Options.TimeoutGrace.
	Header []byte
}

// Response is an answer. For Do it is owned by the caller and reused:
// the answer is copied into its buffer, so a steady stream of calls with
// one Response allocates nothing. Result's byte fields and Body alias
// that buffer and stay valid until the Response is used again.
type Response struct {
	// Result is the parsed rpcReqResult: extra (binlog pos, engine pid...),
	// error code and text for error answers, TL2 marker.
	Result rpc.ReqResult
	// Body is the boxed result (Result.Body), or nil for an error answer.
	Body []byte
	// Raw is the whole rpcReqResult message body (query_id included), for
	// a proxy that forwards the answer as it came.
	Raw []byte
	// Type is the message type Raw came in (TypeReqResult, or the obsolete
	// TypeReqResultError).
	Type uint32

	buf []byte
}

// Reset forgets the answer, keeping the buffer.
func (r *Response) Reset() {
	buf := r.buf
	*r = Response{buf: buf[:0]}
}

// load parses raw (a message of type typ) into r without copying.
func (r *Response) load(typ uint32, raw []byte) error {
	r.Type, r.Raw = typ, raw
	if err := rpc.ParseResult(typ, raw, &r.Result); err != nil {
		r.Body = nil
		return err
	}
	r.Body = r.Result.Body
	if r.Result.IsError() {
		r.Body = nil
	}
	return nil
}

// copyFrom copies src's message into r's own buffer and parses the copy.
func (r *Response) copyFrom(src *Response) {
	r.buf = append(r.buf[:0], src.Raw...)
	_ = r.load(src.Type, r.buf) // src parsed, so the copy parses too
}

// Handler receives the outcome of a call started with Go.
type Handler interface {
	// Done is called exactly once per call Go accepted. err is nil for an
	// answer, an *rpc.Error for an error answer (resp holds it too), or a
	// local failure (ErrTimeout, *ConnError, ErrCanceled, ErrClosed) with
	// resp nil. For no_result calls it is called with (nil, nil) once the
	// request is queued for writing.
	//
	// Done runs on the connection's reader goroutine (or a timer's, or the
	// goroutine of Go, Cancel or Close) and must not block: every other
	// answer on that connection waits for it. resp and its slices are
	// valid only until Done returns; copy what must outlive it. Done may
	// start new calls with Go, but a Go that meets a full write buffer
	// (packet.Config.WriteBufferLimit) blocks the reader until the peer
	// reads, so a proxy answering a slow peer should not do that here.
	Done(token uint64, resp *Response, err error)
}

// requestTimeout applies wire.md §4.6: the explicit custom_timeout_ms if
// its bit is set (even to 0, meaning none), else def; then the deadline,
// which wins when earlier. It returns the value to send (0 = none) and the
// local deadline (zero = none). A passed deadline is ErrTimeout.
//
// grace (Options.TimeoutGrace) moves the local deadline of a sent timeout
// that the caller's deadline did not set to the timeout plus grace, capped
// at the deadline: the peer answers QUERY_TIMEOUT at the sent timeout, and
// that answer says more than a local ErrTimeout. A timeout set by the
// deadline gets none, since the deadline is the caller's hard bound.
func requestTimeout(extra *rpc.InvokeReqExtra, deadline time.Time, def, grace time.Duration, now time.Time) (int32, time.Time, error) {
	var ms int32
	if extra.Flags&rpc.FlagCustomTimeoutMs != 0 {
		if extra.CustomTimeoutMs < 0 {
			return 0, time.Time{}, fmt.Errorf("%w: custom_timeout_ms %d is negative", ErrBadRequest, extra.CustomTimeoutMs)
		}
		ms = extra.CustomTimeoutMs
	} else {
		ms = roundMs(def)
	}
	if !deadline.IsZero() {
		left := deadline.Sub(now)
		if left <= 0 {
			return 0, time.Time{}, ErrTimeout
		}
		if dms := roundMs(left); ms == 0 || dms <= ms {
			return dms, deadline, nil
		}
	}
	if ms == 0 {
		return 0, time.Time{}, nil
	}
	local := now.Add(time.Duration(ms)*time.Millisecond + grace)
	if !deadline.IsZero() && deadline.Before(local) {
		local = deadline
	}
	return ms, local, nil
}

// roundMs converts a timeout to whole milliseconds as VK does: truncated,
// but never rounded down to 0 (which would mean "no timeout"), clamped to
// MaxInt32.
func roundMs(d time.Duration) int32 {
	switch ms := d.Milliseconds(); {
	case d <= 0:
		return 0
	case ms < 1:
		return 1
	case ms > math.MaxInt32:
		return math.MaxInt32
	default:
		return int32(ms)
	}
}
