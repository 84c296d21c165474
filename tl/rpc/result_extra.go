package rpc

import "github.com/rpcproxy/rpcproxy/tl"

// Bits of ResultExtra.Flags (rpcReqResultExtra, wire.md §4.5). A server
// masks them with the request's extra flags: each is answered only when the
// request bit with the same number asked for it.
const (
	ResultFlagBinlogPos          uint32 = 1 << 0  // binlog_pos:long
	ResultFlagBinlogTime         uint32 = 1 << 1  // binlog_time:long
	ResultFlagEnginePID          uint32 = 1 << 2  // engine_pid:%net.Pid
	ResultFlagRequestSizes       uint32 = 1 << 3  // request_size:int response_size:int
	ResultFlagFailedSubqueries   uint32 = 1 << 4  // failed_subqueries:int
	ResultFlagCompressionVersion uint32 = 1 << 5  // compression_version:int
	ResultFlagStats              uint32 = 1 << 6  // stats:%(Dictionary string)
	ResultFlagShardsBinlogPos    uint32 = 1 << 14 // shards_binlog_pos:%(Dictionary long)
	ResultFlagViewNumber         uint32 = 1 << 27 // epoch_number:long view_number:long
)

// NetPID is the bare net.pid: IPv4 as a number, port in the low and pid in
// the high 16 bits of PortPID, start time.
type NetPID struct {
	IP      uint32
	PortPID uint32
	UTime   uint32
}

// ResultExtra is the bare rpcReqResultExtra; fields are meaningful only when
// their Flags bit is set. Dictionaries alias the parsed input.
type ResultExtra struct {
	Flags              uint32
	BinlogPos          int64
	BinlogTime         int64
	EnginePID          NetPID
	RequestSize        int32
	ResponseSize       int32
	FailedSubqueries   int32
	CompressionVersion int32
	Stats              StringDictionary
	ShardsBinlogPos    LongDictionary
	EpochNumber        int64
	ViewNumber         int64
}

func readResultExtra(r []byte, e *ResultExtra) ([]byte, error) {
	*e = ResultExtra{}
	var err error
	if e.Flags, r, err = tl.ReadUint32(r); err != nil {
		return r, wrapField("result extra flags", err)
	}
	f := e.Flags
	if f&ResultFlagBinlogPos != 0 {
		if e.BinlogPos, r, err = tl.ReadInt64(r); err != nil {
			return r, wrapField("binlog_pos", err)
		}
	}
	if f&ResultFlagBinlogTime != 0 {
		if e.BinlogTime, r, err = tl.ReadInt64(r); err != nil {
			return r, wrapField("binlog_time", err)
		}
	}
	if f&ResultFlagEnginePID != 0 {
		if len(r) < 12 {
			return r, wrapField("engine_pid", tl.ErrTruncated)
		}
		e.EnginePID.IP, r, _ = tl.ReadUint32(r)
		e.EnginePID.PortPID, r, _ = tl.ReadUint32(r)
		e.EnginePID.UTime, r, _ = tl.ReadUint32(r)
	}
	if f&ResultFlagRequestSizes != 0 {
		if len(r) < 8 {
			return r, wrapField("request_size", tl.ErrTruncated)
		}
		e.RequestSize, r, _ = tl.ReadInt32(r)
		e.ResponseSize, r, _ = tl.ReadInt32(r)
	}
	if f&ResultFlagFailedSubqueries != 0 {
		if e.FailedSubqueries, r, err = tl.ReadInt32(r); err != nil {
			return r, wrapField("failed_subqueries", err)
		}
	}
	if f&ResultFlagCompressionVersion != 0 {
		if e.CompressionVersion, r, err = tl.ReadInt32(r); err != nil {
			return r, wrapField("compression_version", err)
		}
	}
	if f&ResultFlagStats != 0 {
		if e.Stats, r, err = readStringDictionary(r); err != nil {
			return r, wrapField("stats", err)
		}
	}
	if f&ResultFlagShardsBinlogPos != 0 {
		if e.ShardsBinlogPos, r, err = readLongDictionary(r); err != nil {
			return r, wrapField("shards_binlog_pos", err)
		}
	}
	if f&ResultFlagViewNumber != 0 {
		if len(r) < 16 {
			return r, wrapField("epoch_number", tl.ErrTruncated)
		}
		e.EpochNumber, r, _ = tl.ReadInt64(r)
		e.ViewNumber, r, _ = tl.ReadInt64(r)
	}
	return r, nil
}

// appendResultExtra writes e with its flags replaced by flags; the caller has
// already masked them.
func appendResultExtra(dst []byte, e *ResultExtra, f uint32) []byte {
	dst = tl.AppendUint32(dst, f)
	if f&ResultFlagBinlogPos != 0 {
		dst = tl.AppendInt64(dst, e.BinlogPos)
	}
	if f&ResultFlagBinlogTime != 0 {
		dst = tl.AppendInt64(dst, e.BinlogTime)
	}
	if f&ResultFlagEnginePID != 0 {
		dst = tl.AppendUint32(dst, e.EnginePID.IP)
		dst = tl.AppendUint32(dst, e.EnginePID.PortPID)
		dst = tl.AppendUint32(dst, e.EnginePID.UTime)
	}
	if f&ResultFlagRequestSizes != 0 {
		dst = tl.AppendInt32(tl.AppendInt32(dst, e.RequestSize), e.ResponseSize)
	}
	if f&ResultFlagFailedSubqueries != 0 {
		dst = tl.AppendInt32(dst, e.FailedSubqueries)
	}
	if f&ResultFlagCompressionVersion != 0 {
		dst = tl.AppendInt32(dst, e.CompressionVersion)
	}
	if f&ResultFlagStats != 0 {
		dst = e.Stats.appendTo(dst)
	}
	if f&ResultFlagShardsBinlogPos != 0 {
		dst = e.ShardsBinlogPos.appendTo(dst)
	}
	if f&ResultFlagViewNumber != 0 {
		dst = tl.AppendInt64(tl.AppendInt64(dst, e.EpochNumber), e.ViewNumber)
	}
	return dst
}
