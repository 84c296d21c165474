package rpc

import (
	"fmt"

	"github.com/rpcproxy/rpcproxy/tl"
)

// InvokeReq is the body of an rpcInvokeReq message. Body is the function call
// (its tag first) and aliases the parsed input, as do the variable-size parts
// of Extra; a proxy may change every other field and re-emit the envelope
// with AppendInvokeReqHeader while forwarding Body unchanged.
type InvokeReq struct {
	QueryID int64
	ActorID int64          // 0 = no actor
	Extra   InvokeReqExtra // Extra.Flags == 0 = no extra header
	TL2     bool           // Body is TL2 (rpcTL2Marker was present)
	Body    []byte
}

// ParseInvokeReq parses an rpcInvokeReq body into req without allocating on
// success. Like VK's server it consumes known header tags until the first
// unknown one, which starts Body; it rejects a second actor-bearing or
// extra-bearing header and a TL2 marker that is repeated or not last.
func ParseInvokeReq(body []byte, req *InvokeReq) error {
	*req = InvokeReq{}
	r := body
	var err error
	if req.QueryID, r, err = tl.ReadInt64(r); err != nil {
		return wrapField("query_id", err)
	}
	var actors, extras, markers int
	for {
		tag, after, err := tl.ReadUint32(r)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrNoQuery, err)
		}
		if markers != 0 && (tag == TagDestActor || tag == TagDestFlags || tag == TagDestActorFlags) {
			return fmt.Errorf("%w: TL2 marker before header %#08x", ErrHeader, tag)
		}
		switch tag {
		case TagDestActor:
			actors++
			if req.ActorID, r, err = tl.ReadInt64(after); err != nil {
				return wrapField("rpcDestActor", err)
			}
		case TagDestFlags:
			extras++
			if r, err = readInvokeReqExtra(after, &req.Extra); err != nil {
				return fmt.Errorf("rpc: rpcDestFlags: %w", err)
			}
		case TagDestActorFlags:
			actors++
			extras++
			if req.ActorID, after, err = tl.ReadInt64(after); err != nil {
				return wrapField("rpcDestActorFlags", err)
			}
			if r, err = readInvokeReqExtra(after, &req.Extra); err != nil {
				return fmt.Errorf("rpc: rpcDestActorFlags: %w", err)
			}
		case TagTL2Marker:
			markers++
			req.TL2 = true
			r = after
		default:
			// The unknown tag is the function tag and stays in Body.
			if actors > 1 || extras > 1 || markers > 1 {
				return fmt.Errorf("%w: %d actor, %d extra, %d TL2 headers", ErrHeader, actors, extras, markers)
			}
			req.Body = r
			return nil
		}
		// Fail fast on duplicates instead of parsing a hostile chain of
		// thousands of headers to the end.
		if actors > 1 || extras > 1 || markers > 1 {
			return fmt.Errorf("%w: %d actor, %d extra, %d TL2 headers", ErrHeader, actors, extras, markers)
		}
	}
}

// FunctionTag returns the tag of the called function (the first word of Body).
func (req *InvokeReq) FunctionTag() (uint32, bool) {
	tag, _, err := tl.ReadUint32(req.Body)
	return tag, err == nil
}

// AppendInvokeReqHeader writes query_id and the header chain, choosing
// headers as VK's writer does: rpcDestActorFlags if there is an actor and an
// extra, rpcDestFlags for an extra alone, rpcDestActor for an actor alone,
// then rpcTL2Marker if TL2. dst must not overlap the buffer req was parsed
// from: Body and Extra alias it.
func AppendInvokeReqHeader(dst []byte, req *InvokeReq) []byte {
	dst = tl.AppendInt64(dst, req.QueryID)
	switch {
	case req.ActorID != 0 && req.Extra.Flags != 0:
		dst = tl.AppendUint32(dst, TagDestActorFlags)
		dst = tl.AppendInt64(dst, req.ActorID)
		dst = appendInvokeReqExtra(dst, &req.Extra)
	case req.Extra.Flags != 0:
		dst = tl.AppendUint32(dst, TagDestFlags)
		dst = appendInvokeReqExtra(dst, &req.Extra)
	case req.ActorID != 0:
		dst = tl.AppendUint32(dst, TagDestActor)
		dst = tl.AppendInt64(dst, req.ActorID)
	}
	if req.TL2 {
		dst = tl.AppendUint32(dst, TagTL2Marker)
	}
	return dst
}

// InvokeReqHeaderSize returns len(AppendInvokeReqHeader(nil, req)).
func InvokeReqHeaderSize(req *InvokeReq) int {
	n := 8
	switch {
	case req.ActorID != 0 && req.Extra.Flags != 0:
		n += 4 + 8 + req.Extra.size()
	case req.Extra.Flags != 0:
		n += 4 + req.Extra.size()
	case req.ActorID != 0:
		n += 4 + 8
	}
	if req.TL2 {
		n += 4
	}
	return n
}

// AppendInvokeReq writes the whole rpcInvokeReq body: header, then Body.
func AppendInvokeReq(dst []byte, req *InvokeReq) []byte {
	return append(AppendInvokeReqHeader(dst, req), req.Body...)
}

// StripActor removes the actor header, for a proxy whose upstream addresses
// engines that do not know the actor.
func (req *InvokeReq) StripActor() { req.ActorID = 0 }

// UnwrapDiagonal returns the inner function call of an rpcProxy.diagonal
// body ({X:Type} query:!X => Vector (Maybe X)): the call to send to every
// shard. ok is false if body is not a diagonal call.
func UnwrapDiagonal(body []byte) (inner []byte, ok bool) {
	rest, err := tl.ExpectTag(body, TagProxyDiagonal)
	if err != nil || len(rest) < 4 {
		return nil, false
	}
	return rest, true
}
