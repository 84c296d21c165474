package rpc

import (
	"fmt"

	"github.com/rpcproxy/rpcproxy/tl"
)

// Message types: the 32-bit type of a transport message (the packet type on
// TCP, the first word of a UDP message), wire.md §4.1.
const (
	TypeInvokeReq      uint32 = 0x2374df3d // rpcInvokeReq: query_id, headers, function call
	TypeReqResult      uint32 = 0x63aeda4e // rpcReqResult: query_id, [extra], result or error
	TypeReqResultError uint32 = 0x7ae432f5 // obsolete top-level error: query_id, code, text
	TypeCancelReq      uint32 = 0x193f1b22 // rpcCancelReq: query_id, no answer
	TypeServerWantsFin uint32 = 0xa8ddbc46 // rpcServerWantsFin: empty
	TypeClientWantsFin uint32 = 0x0b73429e // rpcClientWantsFin: empty
	TypePing           uint32 = 0x5730a2df // transport keep-alive, handled by tl/rpc/packet
	TypePong           uint32 = 0x8430eaa7 // transport keep-alive, handled by tl/rpc/packet
)

// Header and body tags inside request and result messages, wire.md §4.2-§4.5.
const (
	TagDestActor      uint32 = 0x7568aabd // rpcDestActor actor_id:long
	TagDestFlags      uint32 = 0xe352035e // rpcDestFlags %rpcInvokeReqExtra
	TagDestActorFlags uint32 = 0xf0a5acf7 // rpcDestActorFlags actor_id:long %rpcInvokeReqExtra
	TagTL2Marker      uint32 = 0x30324c54 // rpcTL2Marker, "TL20": a TL2 body follows

	TagReqResultHeader       uint32 = 0x8cc84ce1 // reqResultHeader %rpcReqResultExtra
	TagReqError              uint32 = 0xb527877d // reqError error_code:int error:string
	TagReqResultError        uint32 = 0x7ae432f5 // rpcReqResultError query_id:long error_code:int error:string
	TagReqResultErrorWrapped uint32 = 0x7ae432f6 // rpcReqResultErrorWrapped error_code:int error:string
	TagInvokeReqExtra        uint32 = 0xf3ef81a9 // boxed rpcInvokeReqExtra (always bare on the wire)
	TagReqResultExtra        uint32 = 0xc5011709 // boxed rpcReqResultExtra (always bare on the wire)
	TagProxyDiagonal         uint32 = 0xbceb94c3 // rpcProxy.diagonal {X:Type} query:!X => Vector (Maybe X)
	TagProxyDiagonalTargets  uint32 = 0xee090e42 // rpcProxy.diagonalTargets
	TagPrepareRequest        uint32 = 0xc8d71b66 // exactlyOnce.prepareRequest uuid
	TagCommitRequest         uint32 = 0x6836b983 // exactlyOnce.commitRequest uuid uuid
	TagTraceID               uint32 = 0x2f4ac855 // tracing.traceID (bare inside traceContext)
	TagTraceContext          uint32 = 0xc463a95c // tracing.traceContext (bare inside the extra)
)

// TypeName names a message type for logs and metrics; unknown types give "".
func TypeName(typ uint32) string {
	switch typ {
	case TypeInvokeReq:
		return "rpcInvokeReq"
	case TypeReqResult:
		return "rpcReqResult"
	case TypeReqResultError:
		return "rpcReqResultError"
	case TypeCancelReq:
		return "rpcCancelReq"
	case TypeServerWantsFin:
		return "rpcServerWantsFin"
	case TypeClientWantsFin:
		return "rpcClientWantsFin"
	case TypePing:
		return "rpcPing"
	case TypePong:
		return "rpcPong"
	}
	return ""
}

// AppendCancelReq appends the body of an rpcCancelReq message (the type
// TypeCancelReq travels in the packet header or the UDP type word; VK's Go
// UDP client omits it, which we do not copy).
func AppendCancelReq(dst []byte, queryID int64) []byte {
	return tl.AppendInt64(dst, queryID)
}

// ParseCancelReq reads the body of an rpcCancelReq message. Trailing bytes
// are an error: the body has exactly one field.
func ParseCancelReq(body []byte) (int64, error) {
	id, rest, err := tl.ReadInt64(body)
	if err != nil {
		return 0, fmt.Errorf("rpc: rpcCancelReq: %w", err)
	}
	if len(rest) != 0 {
		return 0, fmt.Errorf("rpc: rpcCancelReq: %w: %d bytes", ErrTrailing, len(rest))
	}
	return id, nil
}

// ParseEmpty checks the body of rpcServerWantsFin / rpcClientWantsFin. VK's
// Go peers ignore such a body, so callers may also ignore this error; it is
// here for strict tests and logging.
func ParseEmpty(body []byte) error {
	if len(body) != 0 {
		return fmt.Errorf("rpc: fin message: %w: %d bytes", ErrTrailing, len(body))
	}
	return nil
}

// AppendMessage appends a transport-independent message: type word then
// body. This is the UDP message layout (wire.md §5.6); TCP carries the type
// in the packet header instead.
func AppendMessage(dst []byte, typ uint32, body []byte) []byte {
	return append(tl.AppendUint32(dst, typ), body...)
}

// SplitMessage splits a UDP message into its type and body (aliasing msg).
func SplitMessage(msg []byte) (uint32, []byte, error) {
	typ, body, err := tl.ReadUint32(msg)
	if err != nil {
		return 0, nil, fmt.Errorf("rpc: message type: %w", err)
	}
	return typ, body, nil
}
