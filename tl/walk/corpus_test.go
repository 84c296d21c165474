package walk

import (
	"errors"
	"testing"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

func TestEngineReadWriteMode(t *testing.T) {
	w := engineWalker(t)
	fn := tagOf(t, w, "engine.getReadWriteMode")
	mode := tagOf(t, w, "engine.mode")
	call := func(mask uint32) []byte { return enc(nil).tag(fn).u32(mask) }
	tests := []struct {
		name  string
		mask  uint32
		resp  []byte
		field string
		want  uint32 // Bool tag of the field, 0 = absent
		err   error
	}{
		{"both", 3, enc(nil).tag(mode).tag(tl.TagBoolTrue).tag(tl.TagBoolFalse), "write_enabled", tl.TagBoolFalse, nil},
		{"read only", 1, enc(nil).tag(mode).tag(tl.TagBoolTrue), "read_enabled", tl.TagBoolTrue, nil},
		{"write absent", 1, enc(nil).tag(mode).tag(tl.TagBoolTrue), "write_enabled", 0, ErrAbsent},
		{"mask says two", 3, enc(nil).tag(mode).tag(tl.TagBoolTrue), "read_enabled", 0, tl.ErrTruncated},
		{"mask says none", 0, enc(nil).tag(mode).tag(tl.TagBoolTrue), "read_enabled", 0, ErrTrailing},
		{"not a Bool", 1, enc(nil).tag(mode).tag(tl.TagTrue), "read_enabled", 0, ErrUnknownConstructor},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, e, err := w.ResultField(call(tc.mask), tc.resp, tc.field)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err == nil && string(tc.resp[s:e]) != string(enc(nil).tag(tc.want)) {
				t.Fatalf("field = % x", tc.resp[s:e])
			}
		})
	}
}

func TestEngineSendResponseTo(t *testing.T) {
	w := engineWalker(t)
	inner := enc(nil).tag(tagOf(t, w, "engine.getReadWriteMode")).u32(1)
	send := tagOf(t, w, "engine.sendResponseTo")
	call := enc(nil).tag(send).i32(1).i32(2).i32(3)
	call = append(call, inner...)
	if err := w.Check(call); err != nil {
		t.Fatal(err)
	}
	fn, s, e, err := w.Unwrap(call)
	if err != nil || fn.Name != "engine.getReadWriteMode" || string(call[s:e]) != string(inner) {
		t.Fatalf("Unwrap = %v %d..%d %v", fn, s, e, err)
	}
	// Not transparent (answers Bool): UnwrapTransparent keeps the wrapper.
	if fn, _, _, err := w.UnwrapTransparent(call); err != nil || fn.Name != "engine.sendResponseTo" {
		t.Fatalf("UnwrapTransparent = %v, %v", fn, err)
	}
	if v, err := w.ResultValue(call, enc(nil).tag(tl.TagBoolFalse)); err != nil || v.Kind != KindBool || v.Int != 0 {
		t.Fatalf("result %+v %v", v, err)
	}
	// Wrapping a wrapper nests !X twice.
	outer := append(enc(nil).tag(send).i32(4).i32(5).i32(6), call...)
	if err := w.Check(outer); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name string
		call []byte
		err  error
	}{
		{"constructor in !X", append(enc(nil).tag(send).i32(1).i32(2).i32(3), enc(nil).tag(tl.TagBoolTrue)...), ErrNotFunction},
		{"unknown in !X", append(enc(nil).tag(send).i32(1).i32(2).i32(3), enc(nil).tag(7)...), ErrUnknownFunction},
		{"no inner", enc(nil).tag(send).i32(1).i32(2).i32(3), tl.ErrTruncated},
		{"inner trailing", append(call, 0, 0, 0, 0), ErrTrailing},
		{"not a wrapper", inner, ErrNotWrapper},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := w.Unwrap(tc.call)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
		})
	}
}

func TestEngineFilteredStat(t *testing.T) {
	w := engineWalker(t)
	call := enc(nil).tag(tagOf(t, w, "engine.filteredStat")).strs("uptime", "qps", "version")
	keys, err := w.Keys(nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := keys.Key(call)
	if err != nil || v.Kind != KindVector || v.Start != 4 || v.End != len(call) {
		t.Fatalf("Key = %+v, %v", v, err)
	}
	it, err := keys.KeyElems(call)
	if err != nil {
		t.Fatal(err)
	}
	got := keyStrings(t, it)
	if len(got) != 3 || got[0] != "uptime" || got[2] != "version" {
		t.Fatalf("keys %q", got)
	}
	// Stat is stat#9d56e6b2 %(Dictionary string): three single-field
	// layers over a vector of (key, value) pairs.
	resp := enc(nil).tag(tl.TagStat).u32(2).str("uptime").str("10").str("qps").str("2.5")
	if err := w.CheckResult(call, resp); err != nil {
		t.Fatal(err)
	}
	rit, err := w.ResultElems(call, resp)
	if err != nil {
		t.Fatal(err)
	}
	var ranges [][2]int
	for rit.Next() {
		s, e := rit.Range()
		ranges = append(ranges, [2]int{s, e})
	}
	want := [][2]int{{8, 20}, {20, 28}}
	if len(ranges) != 2 || ranges[0] != want[0] || ranges[1] != want[1] || rit.Err() != nil {
		t.Fatalf("ranges %v, err %v", ranges, rit.Err())
	}
}

func TestRPCTuple(t *testing.T) {
	w := loadWalker(t, true, corpus+"rpc.tl")
	typ := w.Schema().Type("netUdpPacket.UnencHeader")
	if typ == nil {
		t.Fatal("no netUdpPacket.UnencHeader")
	}
	ref := &schema.TypeRef{Kind: schema.RefType, Type: typ}
	tag := typ.Constructors[0].Tag
	pid := func(e enc) enc { return e.u32(1).u32(2).u32(3) }
	// flags 0|5: two pids, generation, then %(Tuple # 8).
	good := pid(pid(enc(nil).tag(tag).u32(1 | 1<<5)))
	good = good.u32(9)
	for i := range 8 {
		good = good.u32(uint32(i))
	}
	tests := []struct {
		name string
		b    []byte
		n    int
		err  error
	}{
		{"tuple", good, len(good), nil},
		{"tuple short", good[:len(good)-4], 0, tl.ErrTruncated},
		{"no fields", enc(nil).tag(tag).u32(0), 8, nil},
		{"pid_hash", enc(nil).tag(tag).u32(1 << 2).i64(5), 16, nil},
		{"wrong tag", enc(nil).tag(tag + 1).u32(0), 0, ErrUnknownConstructor},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := w.Skip(tc.b, ref)
			if !errors.Is(err, tc.err) || (err == nil && n != tc.n) {
				t.Fatalf("Skip = %d, %v; want %d, %v", n, err, tc.n, tc.err)
			}
		})
	}
}

// TestCommonReqResult walks rpcInvokeReq (!X) and the answer's ReqResult X,
// whose tag-less default constructor is chosen when no other tag matches.
func TestCommonReqResult(t *testing.T) {
	w := loadWalker(t, false, corpus+"common.tl")
	ping := enc(nil).tag(tagOf(t, w, "kphp.pingRpcCluster")).i32(42)
	call := append(enc(nil).tag(tagOf(t, w, "rpcInvokeReq")).i64(77), ping...)
	if err := w.Check(call); err != nil {
		t.Fatal(err)
	}
	res := enc(nil).tag(tagOf(t, w, "rpcReqResult")).i64(77)
	tests := []struct {
		name  string
		resp  []byte
		inner string // expected bytes of the result field
		err   error
	}{
		{"default _", res.tag(tl.TagInt).i32(5), string(enc(nil).tag(tl.TagInt).i32(5)), nil},
		{"reqError", res.tag(0xb527877d).i32(-3000).str("bad"), string(enc(nil).tag(0xb527877d).i32(-3000).str("bad")), nil},
		{"header", res.tag(0x8cc84ce1).u32(0).tag(tl.TagInt).i32(5), string(enc(nil).tag(0x8cc84ce1).u32(0).tag(tl.TagInt).i32(5)), nil},
		{"header with extra", res.tag(0x8cc84ce1).u32(1).i64(9).tag(tl.TagInt).i32(5), string(enc(nil).tag(0x8cc84ce1).u32(1).i64(9).tag(tl.TagInt).i32(5)), nil},
		{"default, wrong tag", res.tag(tl.TagLong).i64(5), "", tl.ErrTag},
		{"default, truncated", res.tag(tl.TagInt), "", tl.ErrTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, e, err := w.ResultField(call, tc.resp, "result")
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err == nil && string(tc.resp[s:e]) != tc.inner {
				t.Fatalf("result = % x", tc.resp[s:e])
			}
		})
	}
}

// TestTransparentWrappers: rpcDestActor and rpcDestFlags answer exactly
// their inner call's result, so keys and results look through them.
func TestTransparentWrappers(t *testing.T) {
	w := loadWalker(t, false, corpus+"common.tl")
	ping := enc(nil).tag(tagOf(t, w, "kphp.pingRpcCluster")).i32(42)
	flags := append(enc(nil).tag(tagOf(t, w, "rpcDestFlags")).u32(1<<21).i64(100), ping...)
	call := append(enc(nil).tag(tagOf(t, w, "rpcDestActor")).i64(5), flags...)
	fn, s, e, err := w.UnwrapTransparent(call)
	if err != nil || fn.Name != "kphp.pingRpcCluster" || string(call[s:e]) != string(ping) {
		t.Fatalf("UnwrapTransparent = %v %d..%d %v", fn, s, e, err)
	}
	keys, _ := w.Keys(nil)
	v, err := keys.Key(call)
	if err != nil || v.Kind != KindInt || v.Int != 42 || v.Start != len(call)-4 || v.End != len(call) {
		t.Fatalf("Key = %+v, %v", v, err)
	}
	r, err := w.ResultValue(call, enc(nil).tag(tl.TagInt).i32(-7))
	if err != nil || r.Kind != KindInt || r.Int != -7 {
		t.Fatalf("ResultValue = %+v, %v", r, err)
	}
	if _, err := w.ResultValue(call, enc(nil).tag(tl.TagLong).i64(1)); !errors.Is(err, tl.ErrTag) {
		t.Fatalf("wrong result type: %v", err)
	}
}

const diagonalSrc = `
memcache.not_found = memcache.Value;
memcache.strvalue value:string flags:int = memcache.Value;
test.point {fm:#} x:fm.0?int y:fm.1?long = test.Point fm;
---functions---
memcache.get key:string = memcache.Value;
memcache.getMulti keys:%(Vector string) = Vector memcache.Value;
rpcProxy.diagonal#bceb94c3 {X:Type} query:!X = Vector (Maybe X);
test.points fm:# n:# ids:n*[long] = Tuple (test.Point fm) n;
test.multi n:# ids:n*[int] names:n*[string] flag:int = Vector int;
test.masked n:# ids:n*[int] x:n.0?int = Vector int;
test.tupleArg n:# t:%(Tuple int n) ids:n*[int] = True;
test.byId id:long name:string = True;
test.named uid:int name:string = True;
test.boxed x:Long = True;
test.boxedVec pre:int keys:(Vector Long) post:string = True;
test.dictArg d:%(Dictionary int) = True;
test.mask fm:# a:fm.0?string b:int = True;
test.nothing fm:# = True;
test.list limit:int = VectorTotal int;
test.trues v:%(Vector true) x:int = True;
test.nested n:# a:n*[m:# b:m*[true]] = True;
`

func TestDiagonal(t *testing.T) {
	w := srcWalker(t, diagonalSrc)
	get := enc(nil).tag(tagOf(t, w, "memcache.get")).str("foo")
	call := append(enc(nil).tag(0xbceb94c3), get...)
	fn, s, _, err := w.Unwrap(call)
	if err != nil || fn.Name != "memcache.get" || s != 4 {
		t.Fatalf("Unwrap = %v %d %v", fn, s, err)
	}
	strv := tagOf(t, w, "memcache.strvalue")
	resp := enc(nil).tag(tl.TagVector).u32(3).
		tag(tl.TagMaybeTrue).tag(strv).str("bar").i32(1).
		tag(tl.TagMaybeFalse).
		tag(tl.TagMaybeTrue).tag(tagOf(t, w, "memcache.not_found"))
	it, err := w.ResultElems(call, resp)
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for it.Next() {
		s, e := it.Range()
		sizes = append(sizes, e-s)
	}
	if len(sizes) != 3 || sizes[0] != 16 || sizes[1] != 4 || sizes[2] != 8 || it.Err() != nil {
		t.Fatalf("sizes %v err %v", sizes, it.Err())
	}
	bad := enc(nil).tag(tl.TagVector).u32(1).tag(tl.TagMaybeTrue).tag(tl.TagBoolTrue)
	if err := w.CheckResult(call, bad); !errors.Is(err, ErrUnknownConstructor) {
		t.Fatalf("bad inner result: %v", err)
	}
}

// TestResultDependsOnRequest: test.points' answer is a tuple of n points
// whose fields depend on fm, both taken from the request.
func TestResultDependsOnRequest(t *testing.T) {
	w := srcWalker(t, diagonalSrc)
	fn := tagOf(t, w, "test.points")
	call := enc(nil).tag(fn).u32(3).u32(2).i64(10).i64(20)
	pt := tagOf(t, w, "test.point")
	resp := enc(nil).tag(tl.TagTuple).tag(pt).i32(1).i64(2).tag(pt).i32(3).i64(4)
	it, err := w.ResultElems(call, resp)
	if err != nil {
		t.Fatal(err)
	}
	if it.Len() != 2 || it.CountPos() != -1 {
		t.Fatalf("len %d countPos %d", it.Len(), it.CountPos())
	}
	for it.Next() {
		if s, e := it.Range(); e-s != 16 {
			t.Fatalf("point is %d bytes", e-s)
		}
	}
	// Same answer to fm=1 (only x) is too long.
	call1 := enc(nil).tag(fn).u32(1).u32(2).i64(10).i64(20)
	if err := w.CheckResult(call1, resp); !errors.Is(err, ErrUnknownConstructor) {
		t.Fatalf("fm=1: %v", err)
	}
}
