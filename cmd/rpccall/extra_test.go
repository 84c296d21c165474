package main

import (
	"strings"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// TestParseExtra: -extra JSON and the shortcuts become the flags and
// fields of rpcInvokeReqExtra, and print back as the same JSON.
func TestParseExtra(t *testing.T) {
	tests := []struct {
		name    string
		o       options
		flags   uint32
		printed string // extraString of the result
		err     string
	}{
		{name: "empty", o: options{}, flags: 0, printed: `{"flags":0}`},
		{name: "int_forward", o: options{extra: `{"int_forward":5}`}, flags: rpc.FlagIntForward, printed: `{"flags":2097152,"int_forward":5}`},
		{name: "shortcuts", o: options{intForward: -1, intForwardSet: true, stringForward: "u1", stringForwardSet: true},
			flags: rpc.FlagIntForward | rpc.FlagStringForward, printed: `{"flags":3145728,"string_forward":"u1","int_forward":-1}`},
		{name: "forward key vectors", o: options{extra: `{"string_forward_keys":["a","b"],"int_forward_keys":[9223372036854775807]}`},
			flags: rpc.FlagStringForwardKeys | rpc.FlagIntForwardKeys, printed: `{"flags":786432,"string_forward_keys":["a","b"],"int_forward_keys":[9223372036854775807]}`},
		{name: "asks and raw flags", o: options{extra: `{"return_pid":true,"return_view_number":true,"flags":1}`},
			flags:   rpc.FlagReturnPid | rpc.FlagReturnViewNumber | rpc.FlagReturnBinlogPos,
			printed: `{"flags":134217733,"return_binlog_pos":true,"return_pid":true,"return_view_number":true}`},
		{name: "scalars", o: options{extra: `{"requester_id":3,"wait_binlog_pos":4,"custom_timeout_ms":5,"supported_compression_version":6,"random_delay":0.5,"execution_context":"ctx"}`},
			flags:   rpc.FlagRequesterID | rpc.FlagWaitBinlogPos | rpc.FlagCustomTimeoutMs | rpc.FlagSupportedCompressionVersion | rpc.FlagRandomDelay | rpc.FlagExecutionContext,
			printed: `{"flags":1182859776,"requester_id":3,"wait_binlog_pos":4,"custom_timeout_ms":5,"supported_compression_version":6,"random_delay":0.5,"execution_context":"ctx"}`},
		{name: "no_result refused", o: options{extra: `{"flags":128}`}, err: "no_result"},
		{name: "negative timeout", o: options{extra: `{"custom_timeout_ms":-1}`}, err: "custom_timeout_ms -1 is negative"},
		{name: "unknown member", o: options{extra: `{"int_forwrd":1}`}, err: `unknown member "int_forwrd"; known: flags, return_binlog_pos`},
		{name: "wrong type", o: options{extra: `{"string_forward":1}`}, err: "$.string_forward: want string, got JSON number"},
		{name: "syntax", o: options{extra: `{"int_forward":}`}, err: "JSON syntax error at byte"},
		{name: "trailing", o: options{extra: `{} {}`}, err: "data after the JSON object"},
		{name: "both string forwards", o: options{extra: `{"string_forward":"a"}`, stringForwardSet: true}, err: "keep one"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := parseExtra(&tc.o)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.Flags != tc.flags {
				t.Errorf("flags %#x, want %#x", e.Flags, tc.flags)
			}
			if got := extraString(&e); got != tc.printed {
				t.Errorf("printed %s\nwant    %s", got, tc.printed)
			}
		})
	}
}

// TestResultExtraString: the -v rendering of result extras.
func TestResultExtraString(t *testing.T) {
	tests := []struct {
		name string
		e    rpc.ResultExtra
		want string
	}{
		{"none", rpc.ResultExtra{}, `{"flags":0}`},
		{"binlog", rpc.ResultExtra{Flags: rpc.ResultFlagBinlogPos | rpc.ResultFlagBinlogTime, BinlogPos: 7, BinlogTime: 8}, `{"flags":3,"binlog_pos":7,"binlog_time":8}`},
		{"pid", rpc.ResultExtra{Flags: rpc.ResultFlagEnginePID, EnginePID: rpc.NetPID{IP: 0x7f000001, PortPID: 42<<16 | 9311, UTime: 5}},
			`{"flags":4,"engine_pid":{"ip":"127.0.0.1","pid":42,"port":9311,"utime":5}}`},
		{"stats", rpc.ResultExtra{Flags: rpc.ResultFlagStats, Stats: rpc.StringDictionary{}.Add("b", "1").Add("a", "2")}, `{"flags":64,"stats":{"b":"1","a":"2"}}`},
		{"view", rpc.ResultExtra{Flags: rpc.ResultFlagViewNumber, EpochNumber: 1, ViewNumber: 2}, `{"flags":134217728,"epoch_number":1,"view_number":2}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := resultExtraString(&tc.e); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}
