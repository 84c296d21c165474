package rpc

import (
	"testing"
)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// fullExtraHex is an rpcInvokeReqExtra with every data-bearing field plus the
// return_pid and no_result True bits, composed by hand from rpc.tl.
const fullExtraHex = "" +
	"8482bd76" + // flags 0x76bd8284: bits 2 7 9 15 16 18 19 20 21 23 25 26 28 29 30
	"08070605 04030201" + // 9 requester_id 0x0102030405060708
	"01000000 01730000 05000000 00000000" + // 15 wait_shards_binlog_pos {"s": 5}
	"07000000 00000000" + // 16 wait_binlog_pos 7
	"02000000 026b3100 046b6579 32000000" + // 18 string_forward_keys ["k1", "key2"]
	"02000000 01000000 00000000 ffffffff ffffffff" + // 19 int_forward_keys [1, -1]
	"03616263" + // 20 string_forward "abc"
	"2a000000 00000000" + // 21 int_forward 42
	"f4010000" + // 23 custom_timeout_ms 500
	"01000000" + // 25 supported_compression_version 1
	"00000000 0000f83f" + // 26 random_delay 1.5
	"83b93668 01000000 00000000 02000000 00000000 03000000 00000000 04000000 00000000" + // 28 commitRequest {1,2} {3,4}
	"0c000000 10000000 00000000 20000000 00000000 30000000 00000000 01780000" + // 29 trace: mask 0xc, id {16,32}, parent 48, source "x"
	"00000000" // 30 execution_context ""

// fullExtra is the value fullExtraHex encodes.
func fullExtra() InvokeReqExtra {
	return InvokeReqExtra{
		Flags:                       0x76bd8284,
		RequesterID:                 0x0102030405060708,
		WaitShardsBinlogPos:         LongDictionary{}.Add("s", 5),
		WaitBinlogPos:               7,
		StringForwardKeys:           MakeStringVector("k1", "key2"),
		IntForwardKeys:              MakeLongVector(1, -1),
		StringForward:               []byte("abc"),
		IntForward:                  42,
		CustomTimeoutMs:             500,
		SupportedCompressionVersion: 1,
		RandomDelay:                 1.5,
		PersistentQuery:             PersistentQuery{Tag: TagCommitRequest, QueryUUID: UUID{1, 2}, SlotUUID: UUID{3, 4}},
		TraceContext:                TraceContext{FieldsMask: 0xc, TraceID: UUID{16, 32}, ParentID: 48, SourceID: []byte("x")},
		ExecutionContext:            []byte{},
	}
}
