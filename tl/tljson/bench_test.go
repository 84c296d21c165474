package tljson

import "testing"

// benchJSON is a RpcReqResultExtra with longs, a dictionary and strings.
const benchJSON = `{"binlog_pos":1,"binlog_time":2,"engine_pid":{"ip":1,"port_pid":2,"utime":3},` +
	`"request_size":10,"response_size":20,"failed_subqueries":0,"compression_version":1,` +
	`"stats":{"qps":"100","uptime":"3600","version":"1.2.3"},"shards_binlog_pos":{"a":1,"b":2},` +
	`"epoch_number":5,"view_number":6}`

func benchSetup(b *testing.B) (*Codec, *Type, []byte) {
	c := corpusCodec(b, "common.tl")
	ty := mustType(b, c, "%(RpcReqResultExtra 4294967295)")
	bin, err := c.EncodeValue(nil, ty, []byte(benchJSON))
	if err != nil {
		b.Fatal(err)
	}
	return c, ty, bin
}

func BenchmarkDecodeValue(b *testing.B) {
	c, ty, bin := benchSetup(b)
	b.SetBytes(int64(len(bin)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.DecodeValue(ty, bin); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeValue(b *testing.B) {
	c, ty, _ := benchSetup(b)
	b.SetBytes(int64(len(benchJSON)))
	b.ReportAllocs()
	buf := make([]byte, 0, 512)
	for b.Loop() {
		if _, err := c.EncodeValue(buf[:0], ty, []byte(benchJSON)); err != nil {
			b.Fatal(err)
		}
	}
}
