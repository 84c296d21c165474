package rpc

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/internal/tltest"
)

func TestParseResultGolden(t *testing.T) {
	down := []byte("down")
	tests := []struct {
		name string
		typ  uint32
		hex  string
		want ReqResult
	}{
		{"captured response (wire.md §3.7)", TypeReqResult,
			"08070605 04030201 78563412 0a000000",
			ReqResult{QueryID: 0x0102030405060708, Body: tltest.Unhex(t, "78563412 0a000000")}},
		{"form 1 nested rpcReqResultError", TypeReqResult,
			"de00000000000000 f532e47a de00000000000000 46f4ffff 04646f77 6e000000",
			ReqResult{QueryID: 222, ErrorForm: ErrorFormNested, ErrorCode: CodeNoConnections, ErrorText: down, Body: []byte{}}},
		{"form 1 ignores the inner query id", TypeReqResult,
			"de00000000000000 f532e47a 0100000000000000 46f4ffff 04646f77 6e000000",
			ReqResult{QueryID: 222, ErrorForm: ErrorFormNested, ErrorCode: CodeNoConnections, ErrorText: down, Body: []byte{}}},
		{"form 2 reqError", TypeReqResult,
			"de00000000000000 7d8727b5 46f4ffff 04646f77 6e000000",
			ReqResult{QueryID: 222, ErrorForm: ErrorFormReqError, ErrorCode: CodeNoConnections, ErrorText: down, Body: []byte{}}},
		{"form 3 wrapped", TypeReqResult,
			"de00000000000000 f632e47a 46f4ffff 04646f77 6e000000",
			ReqResult{QueryID: 222, ErrorForm: ErrorFormWrapped, ErrorCode: CodeNoConnections, ErrorText: down, Body: []byte{}}},
		{"form 4 top-level", TypeReqResultError,
			"de00000000000000 46f4ffff 04646f77 6e000000",
			ReqResult{QueryID: 222, ErrorForm: ErrorFormTopLevel, ErrorCode: CodeNoConnections, ErrorText: down, Body: []byte{}}},
		{"extra with pid, then result", TypeReqResult,
			"de00000000000000 e14cc88c 04000000 0100007f 2b000000 05000000 b5757299",
			ReqResult{QueryID: 222, HasExtra: true,
				Extra: ResultExtra{Flags: ResultFlagEnginePID, EnginePID: NetPID{IP: 0x7f000001, PortPID: 43, UTime: 5}},
				Body:  tltest.Unhex(t, "b5757299")}},
		{"extra with flags 0", TypeReqResult,
			"de00000000000000 e14cc88c 00000000 b5757299",
			ReqResult{QueryID: 222, HasExtra: true, Body: tltest.Unhex(t, "b5757299")}},
		{"extra then error", TypeReqResult,
			"de00000000000000 e14cc88c 01000000 0900000000000000 f532e47a de00000000000000 46f4ffff 04646f77 6e000000",
			ReqResult{QueryID: 222, HasExtra: true, Extra: ResultExtra{Flags: ResultFlagBinlogPos, BinlogPos: 9},
				ErrorForm: ErrorFormNested, ErrorCode: CodeNoConnections, ErrorText: down, Body: []byte{}}},
		{"TL2 marker", TypeReqResult,
			"de00000000000000 544c3230 01020304",
			ReqResult{QueryID: 222, TL2: true, Body: tltest.Unhex(t, "01020304")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got ReqResult
			must(t, ParseResult(tt.typ, tltest.Unhex(t, tt.hex), &got))
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseResultErrors(t *testing.T) {
	tests := []struct {
		name string
		typ  uint32
		hex  string
		want error
	}{
		{"wrong type", TypeInvokeReq, "de00000000000000 b5757299", ErrMalformed},
		{"empty", TypeReqResult, "", tl.ErrTruncated},
		{"no result", TypeReqResult, "de00000000000000", tl.ErrTruncated},
		{"duplicate extra", TypeReqResult, "de00000000000000 e14cc88c 00000000 e14cc88c 00000000 b5757299", ErrHeader},
		{"truncated extra", TypeReqResult, "de00000000000000 e14cc88c 04000000 0100007f", tl.ErrTruncated},
		{"huge stats count", TypeReqResult, "de00000000000000 e14cc88c 40000000 ffffffff", tl.ErrTruncated},
		{"truncated nested error", TypeReqResult, "de00000000000000 f532e47a de000000", tl.ErrTruncated},
		{"error text bad padding", TypeReqResult, "de00000000000000 7d8727b5 46f4ffff 01610100", tl.ErrPadding},
		{"top-level without text", TypeReqResultError, "de00000000000000 46f4ffff", tl.ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var res ReqResult
			if err := ParseResult(tt.typ, tltest.Unhex(t, tt.hex), &res); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestAppendResult(t *testing.T) {
	pidExtra := ResultExtra{
		Flags:     ResultFlagEnginePID | ResultFlagBinlogPos,
		BinlogPos: 9,
		EnginePID: NetPID{IP: 0x7f000001, PortPID: 43, UTime: 5},
	}
	tests := []struct {
		name     string
		res      ReqResult
		reqFlags uint32
		hex      string
	}{
		{"plain", ReqResult{QueryID: 222, Body: tltest.Unhex(t, "b5757299")}, 0,
			"de00000000000000 b5757299"},
		{"extra masked to pid", ReqResult{QueryID: 222, HasExtra: true, Extra: pidExtra, Body: tltest.Unhex(t, "b5757299")},
			FlagReturnPid,
			"de00000000000000 e14cc88c 04000000 0100007f 2b000000 05000000 b5757299"},
		{"extra not asked for", ReqResult{QueryID: 222, HasExtra: true, Extra: pidExtra, Body: tltest.Unhex(t, "b5757299")},
			FlagCustomTimeoutMs,
			"de00000000000000 b5757299"},
		{"TL2 success", ReqResult{QueryID: 222, TL2: true, Body: tltest.Unhex(t, "01020304")}, 0,
			"de00000000000000 544c3230 01020304"},
		{"reqError normalised to form 1", ReqResult{QueryID: 222, ErrorForm: ErrorFormReqError, ErrorCode: CodeNoConnections, ErrorText: []byte("down")}, 0,
			"de00000000000000 f532e47a de00000000000000 46f4ffff 04646f77 6e000000"},
		{"TL2 error has no marker", ReqResult{QueryID: 222, TL2: true, ErrorForm: ErrorFormTopLevel, ErrorCode: 0, ErrorText: []byte{}}, 0,
			"de00000000000000 f532e47a de00000000000000 60f0ffff 00000000"},
		{"error keeps masked extra", ReqResult{QueryID: 222, HasExtra: true, Extra: pidExtra, ErrorForm: ErrorFormNested, ErrorCode: -1, ErrorText: []byte("x")},
			FlagReturnBinlogPos,
			"de00000000000000 e14cc88c 01000000 0900000000000000 f532e47a de00000000000000 ffffffff 01780000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tltest.Unhex(t, tt.hex)
			if got := AppendResult(nil, &tt.res, tt.reqFlags); !bytes.Equal(got, want) {
				t.Fatalf("\n got %x\nwant %x", got, want)
			}
		})
	}
}

// TestAppendResultExtraEveryField writes every result extra field and parses
// it back.
func TestAppendResultExtraEveryField(t *testing.T) {
	e := ResultExtra{
		Flags:     0x0800407f,
		BinlogPos: 1, BinlogTime: 2,
		EnginePID:   NetPID{3, 4, 5},
		RequestSize: 6, ResponseSize: 7,
		FailedSubqueries: 8, CompressionVersion: 9,
		Stats:           StringDictionary{}.Add("a", "b"),
		ShardsBinlogPos: LongDictionary{}.Add("s", 10),
		EpochNumber:     11, ViewNumber: 12,
	}
	got := AppendResultHeader(nil, 222, &e, 0xffffffff, false)
	want := tltest.Unhex(t, "de00000000000000 e14cc88c 7f400008"+
		"01000000 00000000 02000000 00000000"+ // binlog pos, time
		"03000000 04000000 05000000"+ // engine pid
		"06000000 07000000 08000000 09000000"+ // sizes, failed, compression
		"01000000 01610000 01620000"+ // stats {a: b}
		"01000000 01730000 0a000000 00000000"+ // shards {s: 10}
		"0b000000 00000000 0c000000 00000000") // epoch, view
	if !bytes.Equal(got, want) {
		t.Fatalf("\n got %x\nwant %x", got, want)
	}
	var res ReqResult
	must(t, ParseResult(TypeReqResult, append(got, 0xb5, 0x75, 0x72, 0x99), &res))
	if !reflect.DeepEqual(res.Extra, e) {
		t.Fatalf("\n got %+v\nwant %+v", res.Extra, e)
	}
	for k, v := range res.Extra.Stats.All() {
		if string(k) != "a" || string(v) != "b" {
			t.Fatalf("stats %q=%q", k, v)
		}
	}
}

func TestAppendErrorBody(t *testing.T) {
	got := AppendErrorBody(nil, 222, 0, "boom")
	if want := tltest.Unhex(t, "f532e47a de00000000000000 60f0ffff 04626f6f 6d000000"); !bytes.Equal(got, want) {
		t.Fatalf("\n got %x\nwant %x", got, want)
	}
	var res ReqResult
	must(t, ParseResult(TypeReqResult, append(tl.AppendInt64(nil, 222), got...), &res))
	var e *Error
	if err := res.Err(); !errors.As(err, &e) || e.Code != CodeUnknown || e.Description != "boom" {
		t.Fatalf("Err() = %v", err)
	}
	var ok ReqResult
	if ok.Err() != nil {
		t.Fatal("success result has an error")
	}
}
