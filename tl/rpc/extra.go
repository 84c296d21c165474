package rpc

import (
	"fmt"

	"github.com/rpcproxy/rpcproxy/tl"
)

// Bits of InvokeReqExtra.Flags (rpcInvokeReqExtra, wire.md §4.3). Bits
// marked True carry no bytes: the bit is the value.
const (
	FlagReturnBinlogPos             uint32 = 1 << 0  // True
	FlagReturnBinlogTime            uint32 = 1 << 1  // True
	FlagReturnPid                   uint32 = 1 << 2  // True
	FlagReturnRequestSizes          uint32 = 1 << 3  // True
	FlagReturnFailedSubqueries      uint32 = 1 << 4  // True
	FlagReturnQueryStats            uint32 = 1 << 6  // True
	FlagNoResult                    uint32 = 1 << 7  // True: the client waits for no answer
	FlagMustBeMaster                uint32 = 1 << 8  // True
	FlagRequesterID                 uint32 = 1 << 9  // long
	FlagReturnShardsBinlogPos       uint32 = 1 << 14 // True
	FlagWaitShardsBinlogPos         uint32 = 1 << 15 // %(Dictionary long)
	FlagWaitBinlogPos               uint32 = 1 << 16 // long
	FlagStringForwardKeys           uint32 = 1 << 18 // %(Vector string): route by first, then drop it
	FlagIntForwardKeys              uint32 = 1 << 19 // %(Vector long): route by first, then drop it
	FlagStringForward               uint32 = 1 << 20 // string: route by it, keep it
	FlagIntForward                  uint32 = 1 << 21 // long: route by it, keep it
	FlagCustomTimeoutMs             uint32 = 1 << 23 // int
	FlagSupportedCompressionVersion uint32 = 1 << 25 // int
	FlagRandomDelay                 uint32 = 1 << 26 // double
	FlagReturnViewNumber            uint32 = 1 << 27 // True
	FlagPersistentQuery             uint32 = 1 << 28 // exactlyOnce.PersistentRequest (boxed)
	FlagTraceContext                uint32 = 1 << 29 // %tracing.TraceContext
	FlagExecutionContext            uint32 = 1 << 30 // string
)

// Bits of TraceContext.FieldsMask that carry data; bits 0-1 (status), 4-6
// (level) and 7 (debug) are true flags without bytes.
const (
	TraceFlagParentID uint32 = 1 << 2 // parent_id:long
	TraceFlagSourceID uint32 = 1 << 3 // source_id:string
)

// UUID is exactlyOnce.uuid, two longs.
type UUID struct{ Lo, Hi int64 }

// PersistentQuery is the boxed exactlyOnce.PersistentRequest union: Tag is
// TagPrepareRequest (QueryUUID only) or TagCommitRequest (both uuids).
type PersistentQuery struct {
	Tag       uint32
	QueryUUID UUID
	SlotUUID  UUID
}

// TraceContext is the bare tracing.traceContext.
type TraceContext struct {
	FieldsMask uint32
	TraceID    UUID   // tracing.traceID lo, hi
	ParentID   int64  // if FieldsMask&TraceFlagParentID
	SourceID   []byte // if FieldsMask&TraceFlagSourceID; aliases the input
}

// InvokeReqExtra is the bare rpcInvokeReqExtra. A field is meaningful only
// when its Flags bit is set; the writer emits exactly the fields whose bits
// are set, in declaration order. Flags are kept verbatim, including bits
// this schema does not know (they must carry no data, or the peer would
// desynchronise anyway). Variable-size fields alias the parsed input.
type InvokeReqExtra struct {
	Flags                       uint32
	RequesterID                 int64
	WaitShardsBinlogPos         LongDictionary
	WaitBinlogPos               int64
	StringForwardKeys           StringVector
	IntForwardKeys              LongVector
	StringForward               []byte
	IntForward                  int64
	CustomTimeoutMs             int32
	SupportedCompressionVersion int32
	RandomDelay                 float64
	PersistentQuery             PersistentQuery
	TraceContext                TraceContext
	ExecutionContext            []byte
}

// Has reports whether every bit of mask is set.
func (e *InvokeReqExtra) Has(mask uint32) bool { return e.Flags&mask == mask }

// NoResult reports whether the client expects no answer.
func (e *InvokeReqExtra) NoResult() bool { return e.Flags&FlagNoResult != 0 }

// ClearNoResult clears no_result: a proxy forwards such requests as normal
// ones so that it can account for the engine's answer.
func (e *InvokeReqExtra) ClearNoResult() { e.Flags &^= FlagNoResult }

// SetCustomTimeoutMs sets custom_timeout_ms; ms <= 0 clears the bit because
// VK treats 0 as "no timeout" and never sends it.
func (e *InvokeReqExtra) SetCustomTimeoutMs(ms int32) {
	if ms <= 0 {
		e.Flags &^= FlagCustomTimeoutMs
		e.CustomTimeoutMs = 0
		return
	}
	e.Flags |= FlagCustomTimeoutMs
	e.CustomTimeoutMs = ms
}

// Timeout returns custom_timeout_ms if set and positive.
func (e *InvokeReqExtra) Timeout() (int32, bool) {
	if e.Flags&FlagCustomTimeoutMs == 0 || e.CustomTimeoutMs <= 0 {
		return 0, false
	}
	return e.CustomTimeoutMs, true
}

// FirstStringForwardKey returns the first string_forward_keys element.
func (e *InvokeReqExtra) FirstStringForwardKey() ([]byte, bool) {
	if e.Flags&FlagStringForwardKeys == 0 {
		return nil, false
	}
	return e.StringForwardKeys.First()
}

// FirstIntForwardKey returns the first int_forward_keys element.
func (e *InvokeReqExtra) FirstIntForwardKey() (int64, bool) {
	if e.Flags&FlagIntForwardKeys == 0 {
		return 0, false
	}
	return e.IntForwardKeys.First()
}

// DropFirstStringForwardKey removes and returns the first string forward
// key, as a proxy must after routing by it. The bit stays set even when the
// vector becomes empty, which is what the next hop would see from VK's proxy
// too: an empty key list, not a missing one.
func (e *InvokeReqExtra) DropFirstStringForwardKey() ([]byte, bool) {
	if e.Flags&FlagStringForwardKeys == 0 {
		return nil, false
	}
	return e.StringForwardKeys.DropFirst()
}

// DropFirstIntForwardKey is DropFirstStringForwardKey for int keys.
func (e *InvokeReqExtra) DropFirstIntForwardKey() (int64, bool) {
	if e.Flags&FlagIntForwardKeys == 0 {
		return 0, false
	}
	return e.IntForwardKeys.DropFirst()
}

// DropFirstForwardKey drops the first forward key of whichever vector is
// present, string keys first (the order VK's proxy checks them). It reports
// whether a key was dropped.
func (e *InvokeReqExtra) DropFirstForwardKey() bool {
	if _, ok := e.DropFirstStringForwardKey(); ok {
		return true
	}
	_, ok := e.DropFirstIntForwardKey()
	return ok
}

// readInvokeReqExtra parses a bare rpcInvokeReqExtra into e (which it
// resets) without allocating.
func readInvokeReqExtra(r []byte, e *InvokeReqExtra) ([]byte, error) {
	*e = InvokeReqExtra{}
	var err error
	if e.Flags, r, err = tl.ReadUint32(r); err != nil {
		return r, wrapField("extra flags", err)
	}
	f := e.Flags
	if f&FlagRequesterID != 0 {
		if e.RequesterID, r, err = tl.ReadInt64(r); err != nil {
			return r, wrapField("requester_id", err)
		}
	}
	if f&FlagWaitShardsBinlogPos != 0 {
		if e.WaitShardsBinlogPos, r, err = readLongDictionary(r); err != nil {
			return r, wrapField("wait_shards_binlog_pos", err)
		}
	}
	if f&FlagWaitBinlogPos != 0 {
		if e.WaitBinlogPos, r, err = tl.ReadInt64(r); err != nil {
			return r, wrapField("wait_binlog_pos", err)
		}
	}
	if f&FlagStringForwardKeys != 0 {
		if e.StringForwardKeys, r, err = readStringVector(r); err != nil {
			return r, wrapField("string_forward_keys", err)
		}
	}
	if f&FlagIntForwardKeys != 0 {
		if e.IntForwardKeys, r, err = readLongVector(r); err != nil {
			return r, wrapField("int_forward_keys", err)
		}
	}
	if f&FlagStringForward != 0 {
		if e.StringForward, r, err = tl.ReadBytes(r); err != nil {
			return r, wrapField("string_forward", err)
		}
	}
	if f&FlagIntForward != 0 {
		if e.IntForward, r, err = tl.ReadInt64(r); err != nil {
			return r, wrapField("int_forward", err)
		}
	}
	if f&FlagCustomTimeoutMs != 0 {
		if e.CustomTimeoutMs, r, err = tl.ReadInt32(r); err != nil {
			return r, wrapField("custom_timeout_ms", err)
		}
	}
	if f&FlagSupportedCompressionVersion != 0 {
		if e.SupportedCompressionVersion, r, err = tl.ReadInt32(r); err != nil {
			return r, wrapField("supported_compression_version", err)
		}
	}
	if f&FlagRandomDelay != 0 {
		if e.RandomDelay, r, err = tl.ReadFloat64(r); err != nil {
			return r, wrapField("random_delay", err)
		}
	}
	if f&FlagPersistentQuery != 0 {
		if r, err = readPersistentQuery(r, &e.PersistentQuery); err != nil {
			return r, wrapField("persistent_query", err)
		}
	}
	if f&FlagTraceContext != 0 {
		if r, err = readTraceContext(r, &e.TraceContext); err != nil {
			return r, wrapField("trace_context", err)
		}
	}
	if f&FlagExecutionContext != 0 {
		if e.ExecutionContext, r, err = tl.ReadBytes(r); err != nil {
			return r, wrapField("execution_context", err)
		}
	}
	return r, nil
}

// appendInvokeReqExtra writes a bare rpcInvokeReqExtra.
func appendInvokeReqExtra(dst []byte, e *InvokeReqExtra) []byte {
	f := e.Flags
	dst = tl.AppendUint32(dst, f)
	if f&FlagRequesterID != 0 {
		dst = tl.AppendInt64(dst, e.RequesterID)
	}
	if f&FlagWaitShardsBinlogPos != 0 {
		dst = e.WaitShardsBinlogPos.appendTo(dst)
	}
	if f&FlagWaitBinlogPos != 0 {
		dst = tl.AppendInt64(dst, e.WaitBinlogPos)
	}
	if f&FlagStringForwardKeys != 0 {
		dst = e.StringForwardKeys.appendTo(dst)
	}
	if f&FlagIntForwardKeys != 0 {
		dst = e.IntForwardKeys.appendTo(dst)
	}
	if f&FlagStringForward != 0 {
		dst = tl.AppendBytes(dst, e.StringForward)
	}
	if f&FlagIntForward != 0 {
		dst = tl.AppendInt64(dst, e.IntForward)
	}
	if f&FlagCustomTimeoutMs != 0 {
		dst = tl.AppendInt32(dst, e.CustomTimeoutMs)
	}
	if f&FlagSupportedCompressionVersion != 0 {
		dst = tl.AppendInt32(dst, e.SupportedCompressionVersion)
	}
	if f&FlagRandomDelay != 0 {
		dst = tl.AppendFloat64(dst, e.RandomDelay)
	}
	if f&FlagPersistentQuery != 0 {
		dst = appendPersistentQuery(dst, &e.PersistentQuery)
	}
	if f&FlagTraceContext != 0 {
		dst = appendTraceContext(dst, &e.TraceContext)
	}
	if f&FlagExecutionContext != 0 {
		dst = tl.AppendBytes(dst, e.ExecutionContext)
	}
	return dst
}

// size returns the encoded size of e, so a caller can check a packet limit
// or size a buffer before writing.
func (e *InvokeReqExtra) size() int {
	f := e.Flags
	n := 4
	add := func(bit uint32, k int) {
		if f&bit != 0 {
			n += k
		}
	}
	add(FlagRequesterID, 8)
	add(FlagWaitShardsBinlogPos, e.WaitShardsBinlogPos.size())
	add(FlagWaitBinlogPos, 8)
	add(FlagStringForwardKeys, e.StringForwardKeys.size())
	add(FlagIntForwardKeys, e.IntForwardKeys.size())
	add(FlagStringForward, tl.StringSize(len(e.StringForward)))
	add(FlagIntForward, 8)
	add(FlagCustomTimeoutMs, 4)
	add(FlagSupportedCompressionVersion, 4)
	add(FlagRandomDelay, 8)
	if f&FlagPersistentQuery != 0 {
		n += 4 + 16
		if e.PersistentQuery.Tag == TagCommitRequest {
			n += 16
		}
	}
	if f&FlagTraceContext != 0 {
		n += 4 + 16
		if e.TraceContext.FieldsMask&TraceFlagParentID != 0 {
			n += 8
		}
		if e.TraceContext.FieldsMask&TraceFlagSourceID != 0 {
			n += tl.StringSize(len(e.TraceContext.SourceID))
		}
	}
	add(FlagExecutionContext, tl.StringSize(len(e.ExecutionContext)))
	return n
}

func readUUID(r []byte, u *UUID) ([]byte, error) {
	var err error
	if u.Lo, r, err = tl.ReadInt64(r); err != nil {
		return r, err
	}
	u.Hi, r, err = tl.ReadInt64(r)
	return r, err
}

func appendUUID(dst []byte, u UUID) []byte {
	return tl.AppendInt64(tl.AppendInt64(dst, u.Lo), u.Hi)
}

func readPersistentQuery(r []byte, p *PersistentQuery) ([]byte, error) {
	tag, r, err := tl.ReadUint32(r)
	if err != nil {
		return r, err
	}
	switch tag {
	case TagPrepareRequest:
		p.Tag = tag
		return readUUID(r, &p.QueryUUID)
	case TagCommitRequest:
		p.Tag = tag
		if r, err = readUUID(r, &p.QueryUUID); err != nil {
			return r, err
		}
		return readUUID(r, &p.SlotUUID)
	}
	return r, fmt.Errorf("%w: exactlyOnce.PersistentRequest %#08x", tl.ErrTag, tag)
}

// appendPersistentQuery writes the union; any Tag other than commit is
// written as prepare, so the output always parses.
func appendPersistentQuery(dst []byte, p *PersistentQuery) []byte {
	if p.Tag == TagCommitRequest {
		dst = tl.AppendUint32(dst, TagCommitRequest)
		return appendUUID(appendUUID(dst, p.QueryUUID), p.SlotUUID)
	}
	dst = tl.AppendUint32(dst, TagPrepareRequest)
	return appendUUID(dst, p.QueryUUID)
}

func readTraceContext(r []byte, t *TraceContext) ([]byte, error) {
	var err error
	if t.FieldsMask, r, err = tl.ReadUint32(r); err != nil {
		return r, err
	}
	if r, err = readUUID(r, &t.TraceID); err != nil {
		return r, err
	}
	if t.FieldsMask&TraceFlagParentID != 0 {
		if t.ParentID, r, err = tl.ReadInt64(r); err != nil {
			return r, err
		}
	}
	if t.FieldsMask&TraceFlagSourceID != 0 {
		if t.SourceID, r, err = tl.ReadBytes(r); err != nil {
			return r, err
		}
	}
	return r, nil
}

func appendTraceContext(dst []byte, t *TraceContext) []byte {
	dst = appendUUID(tl.AppendUint32(dst, t.FieldsMask), t.TraceID)
	if t.FieldsMask&TraceFlagParentID != 0 {
		dst = tl.AppendInt64(dst, t.ParentID)
	}
	if t.FieldsMask&TraceFlagSourceID != 0 {
		dst = tl.AppendBytes(dst, t.SourceID)
	}
	return dst
}
