package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// extraJSON is the -extra object. Pointers tell "absent" from zero; the
// field names are the rpcInvokeReqExtra names of wire.md §4.3.
type extraJSON struct {
	Flags                       *uint32  `json:"flags"`
	ReturnBinlogPos             bool     `json:"return_binlog_pos"`
	ReturnBinlogTime            bool     `json:"return_binlog_time"`
	ReturnPid                   bool     `json:"return_pid"`
	ReturnRequestSizes          bool     `json:"return_request_sizes"`
	ReturnFailedSubqueries      bool     `json:"return_failed_subqueries"`
	ReturnQueryStats            bool     `json:"return_query_stats"`
	MustBeMaster                bool     `json:"must_be_master"`
	ReturnShardsBinlogPos       bool     `json:"return_shards_binlog_pos"`
	ReturnViewNumber            bool     `json:"return_view_number"`
	RequesterID                 *int64   `json:"requester_id"`
	WaitBinlogPos               *int64   `json:"wait_binlog_pos"`
	StringForwardKeys           []string `json:"string_forward_keys"`
	IntForwardKeys              []int64  `json:"int_forward_keys"`
	StringForward               *string  `json:"string_forward"`
	IntForward                  *int64   `json:"int_forward"`
	CustomTimeoutMs             *int32   `json:"custom_timeout_ms"`
	SupportedCompressionVersion *int32   `json:"supported_compression_version"`
	RandomDelay                 *float64 `json:"random_delay"`
	ExecutionContext            *string  `json:"execution_context"`
}

// trueBit is one True-typed ask of rpcInvokeReqExtra: the bit is the value.
type trueBit struct {
	name string
	bit  uint32
}

// trueBits lists the True-typed asks in wire order; the printer and the
// parser share it.
func trueBits() [9]trueBit {
	return [9]trueBit{
		{"return_binlog_pos", rpc.FlagReturnBinlogPos},
		{"return_binlog_time", rpc.FlagReturnBinlogTime},
		{"return_pid", rpc.FlagReturnPid},
		{"return_request_sizes", rpc.FlagReturnRequestSizes},
		{"return_failed_subqueries", rpc.FlagReturnFailedSubqueries},
		{"return_query_stats", rpc.FlagReturnQueryStats},
		{"must_be_master", rpc.FlagMustBeMaster},
		{"return_shards_binlog_pos", rpc.FlagReturnShardsBinlogPos},
		{"return_view_number", rpc.FlagReturnViewNumber},
	}
}

// unsupportedBits cannot be expressed through -extra: no_result because
// rpccall always waits for the answer (and the client refuses it), the
// others because nobody has needed them from a CLI yet.
const unsupportedBits = rpc.FlagNoResult | rpc.FlagWaitShardsBinlogPos | rpc.FlagPersistentQuery | rpc.FlagTraceContext

// parseExtra turns the -extra JSON and the forward-key shortcuts into an
// rpcInvokeReqExtra. Errors name the offending member.
func parseExtra(o *options) (rpc.InvokeReqExtra, error) {
	var e rpc.InvokeReqExtra
	var j extraJSON
	if strings.TrimSpace(o.extra) != "" {
		dec := json.NewDecoder(strings.NewReader(o.extra))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&j); err != nil {
			return e, fmt.Errorf("-extra: %w", describeJSONError(err))
		}
		if _, err := dec.Token(); err != io.EOF {
			return e, errors.New("-extra: data after the JSON object")
		}
	}
	if j.Flags != nil {
		if bad := *j.Flags & unsupportedBits; bad != 0 {
			return e, fmt.Errorf("-extra: flags bits %#x carry data rpccall cannot write or ask for no answer (no_result, wait_shards_binlog_pos, persistent_query, trace_context)", bad)
		}
		e.Flags = *j.Flags
	}
	asks := [...]bool{j.ReturnBinlogPos, j.ReturnBinlogTime, j.ReturnPid, j.ReturnRequestSizes,
		j.ReturnFailedSubqueries, j.ReturnQueryStats, j.MustBeMaster, j.ReturnShardsBinlogPos, j.ReturnViewNumber}
	bits := trueBits()
	for i, on := range asks {
		if on {
			e.Flags |= bits[i].bit
		}
	}
	if j.RequesterID != nil {
		e.Flags |= rpc.FlagRequesterID
		e.RequesterID = *j.RequesterID
	}
	if j.WaitBinlogPos != nil {
		e.Flags |= rpc.FlagWaitBinlogPos
		e.WaitBinlogPos = *j.WaitBinlogPos
	}
	if j.StringForwardKeys != nil {
		e.Flags |= rpc.FlagStringForwardKeys
		e.StringForwardKeys = rpc.MakeStringVector(j.StringForwardKeys...)
	}
	if j.IntForwardKeys != nil {
		e.Flags |= rpc.FlagIntForwardKeys
		e.IntForwardKeys = rpc.MakeLongVector(j.IntForwardKeys...)
	}
	if j.StringForward != nil && o.stringForwardSet {
		return e, errors.New("-string-forward and -extra's string_forward both given; keep one")
	}
	if j.IntForward != nil && o.intForwardSet {
		return e, errors.New("-int-forward and -extra's int_forward both given; keep one")
	}
	switch {
	case j.StringForward != nil:
		e.Flags |= rpc.FlagStringForward
		e.StringForward = []byte(*j.StringForward)
	case o.stringForwardSet:
		e.Flags |= rpc.FlagStringForward
		e.StringForward = []byte(o.stringForward)
	}
	switch {
	case j.IntForward != nil:
		e.Flags |= rpc.FlagIntForward
		e.IntForward = *j.IntForward
	case o.intForwardSet:
		e.Flags |= rpc.FlagIntForward
		e.IntForward = o.intForward
	}
	if j.CustomTimeoutMs != nil {
		if *j.CustomTimeoutMs < 0 {
			return e, fmt.Errorf("-extra: custom_timeout_ms %d is negative", *j.CustomTimeoutMs)
		}
		e.Flags |= rpc.FlagCustomTimeoutMs
		e.CustomTimeoutMs = *j.CustomTimeoutMs
	}
	if j.SupportedCompressionVersion != nil {
		e.Flags |= rpc.FlagSupportedCompressionVersion
		e.SupportedCompressionVersion = *j.SupportedCompressionVersion
	}
	if j.RandomDelay != nil {
		e.Flags |= rpc.FlagRandomDelay
		e.RandomDelay = *j.RandomDelay
	}
	if j.ExecutionContext != nil {
		e.Flags |= rpc.FlagExecutionContext
		e.ExecutionContext = []byte(*j.ExecutionContext)
	}
	return e, nil
}

// describeJSONError rewrites encoding/json errors into the member path and
// what to do.
func describeJSONError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return fmt.Errorf("$.%s: want %v, got JSON %s", te.Field, te.Type, te.Value)
	case errors.As(err, &se):
		return fmt.Errorf("JSON syntax error at byte %d: %v", se.Offset, err)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return fmt.Errorf("unknown member %s; known: %s", name, strings.Join(extraNames(), ", "))
	}
	return err
}

// extraNames lists the members -extra accepts.
func extraNames() []string {
	return []string{"flags", "return_binlog_pos", "return_binlog_time", "return_pid", "return_request_sizes",
		"return_failed_subqueries", "return_query_stats", "must_be_master", "return_shards_binlog_pos",
		"return_view_number", "requester_id", "wait_binlog_pos", "string_forward_keys", "int_forward_keys",
		"string_forward", "int_forward", "custom_timeout_ms", "supported_compression_version", "random_delay",
		"execution_context"}
}

// object writes a JSON object member by member in the order given, so
// the -v output follows wire order.
type object struct{ b bytes.Buffer }

func (o *object) add(name string, v any) {
	if o.b.Len() == 0 {
		o.b.WriteByte('{')
	} else {
		o.b.WriteByte(',')
	}
	o.b.WriteString(strconv.Quote(name))
	o.b.WriteByte(':')
	js, err := json.Marshal(v)
	if err != nil { // only NaN/Inf floats; print them as strings
		js = []byte(strconv.Quote(fmt.Sprint(v)))
	}
	o.b.Write(js)
}

func (o *object) String() string {
	if o.b.Len() == 0 {
		return "{}"
	}
	return o.b.String() + "}"
}

// extraString renders an rpcInvokeReqExtra as the JSON -extra accepts.
func extraString(e *rpc.InvokeReqExtra) string {
	var o object
	f := e.Flags
	o.add("flags", f)
	for _, tb := range trueBits() {
		if f&tb.bit != 0 {
			o.add(tb.name, true)
		}
	}
	if f&rpc.FlagRequesterID != 0 {
		o.add("requester_id", e.RequesterID)
	}
	if f&rpc.FlagWaitBinlogPos != 0 {
		o.add("wait_binlog_pos", e.WaitBinlogPos)
	}
	if f&rpc.FlagStringForwardKeys != 0 {
		keys := []string{}
		for k := range e.StringForwardKeys.All() {
			keys = append(keys, string(k))
		}
		o.add("string_forward_keys", keys)
	}
	if f&rpc.FlagIntForwardKeys != 0 {
		keys := []int64{}
		for i := range e.IntForwardKeys.Len() {
			keys = append(keys, e.IntForwardKeys.At(i))
		}
		o.add("int_forward_keys", keys)
	}
	if f&rpc.FlagStringForward != 0 {
		o.add("string_forward", string(e.StringForward))
	}
	if f&rpc.FlagIntForward != 0 {
		o.add("int_forward", e.IntForward)
	}
	if f&rpc.FlagCustomTimeoutMs != 0 {
		o.add("custom_timeout_ms", e.CustomTimeoutMs)
	}
	if f&rpc.FlagSupportedCompressionVersion != 0 {
		o.add("supported_compression_version", e.SupportedCompressionVersion)
	}
	if f&rpc.FlagRandomDelay != 0 {
		o.add("random_delay", e.RandomDelay)
	}
	if f&rpc.FlagExecutionContext != 0 {
		o.add("execution_context", string(e.ExecutionContext))
	}
	return o.String()
}

// resultExtraString renders an rpcReqResultExtra with the field names of
// wire.md §4.5.
func resultExtraString(e *rpc.ResultExtra) string {
	var o object
	f := e.Flags
	o.add("flags", f)
	if f&rpc.ResultFlagBinlogPos != 0 {
		o.add("binlog_pos", e.BinlogPos)
	}
	if f&rpc.ResultFlagBinlogTime != 0 {
		o.add("binlog_time", e.BinlogTime)
	}
	if f&rpc.ResultFlagEnginePID != 0 {
		p := e.EnginePID
		ip := fmt.Sprintf("%d.%d.%d.%d", byte(p.IP>>24), byte(p.IP>>16), byte(p.IP>>8), byte(p.IP))
		o.add("engine_pid", map[string]any{"ip": ip, "port": p.PortPID & 0xffff, "pid": p.PortPID >> 16, "utime": p.UTime})
	}
	if f&rpc.ResultFlagRequestSizes != 0 {
		o.add("request_size", e.RequestSize)
		o.add("response_size", e.ResponseSize)
	}
	if f&rpc.ResultFlagFailedSubqueries != 0 {
		o.add("failed_subqueries", e.FailedSubqueries)
	}
	if f&rpc.ResultFlagCompressionVersion != 0 {
		o.add("compression_version", e.CompressionVersion)
	}
	if f&rpc.ResultFlagStats != 0 {
		var st object
		for k, v := range e.Stats.All() {
			st.add(string(k), string(v))
		}
		o.b.WriteString(`,"stats":` + st.String())
	}
	if f&rpc.ResultFlagShardsBinlogPos != 0 {
		var st object
		for k, v := range e.ShardsBinlogPos.All() {
			st.add(string(k), v)
		}
		o.b.WriteString(`,"shards_binlog_pos":` + st.String())
	}
	if f&rpc.ResultFlagViewNumber != 0 {
		o.add("epoch_number", e.EpochNumber)
		o.add("view_number", e.ViewNumber)
	}
	return o.String()
}
