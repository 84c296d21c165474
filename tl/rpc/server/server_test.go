package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/packet"
)

func TestEcho(t *testing.T) {
	leakCheck(t)
	ts := startServer(t, Config{Handler: echo, Packet: packet.Config{Key: testKey}})
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	for _, tc := range []struct {
		name    string
		version packet.Version
		aes     bool
	}{
		{"plain/v0", packet.Version0, false},
		{"plain/v1", packet.Version1, false},
		{"plain/v2", packet.Version2, false},
		{"aes/v0", packet.Version0, true},
		{"aes/v1", packet.Version1, true},
		{"aes/v2", packet.Version2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := packet.Config{ProtocolVersion: tc.version}
			if tc.aes {
				cfg.Key, cfg.ForceEncryption = testKey, true
			}
			c := dial(t, ts.addr, cfg)
			if c.pc.Encrypted() != tc.aes {
				t.Fatalf("encrypted = %v", c.pc.Encrypted())
			}
			for i, body := range [][]byte{fn(tagEcho), fn(tagEcho, 1, 2, 3, 4), fn(tagEcho, big...)} {
				res := c.call(&rpc.InvokeReq{QueryID: int64(i + 1), Body: body})
				if res.IsError() || !bytes.Equal(res.Body, body) {
					t.Fatalf("call %d: error %d %q, body %d bytes, want %d", i, res.ErrorCode, res.ErrorText, len(res.Body), len(body))
				}
			}
		})
	}
}

// TestRequestFields: actor, extra (timeouts, forward keys), TL2 and
// connection info reach the handler intact; extras are answered masked.
func TestRequestFields(t *testing.T) {
	leakCheck(t)
	type seen struct {
		actor    int64
		keys     string
		deadline time.Duration
		hasDL    bool
		tl2      bool
		connID   uint64
		remote   string
	}
	now := time.Unix(1_700_000_000, 0)
	got := make(chan seen, 1)
	h := HandlerFunc(func(r *Request) {
		first, _ := r.Extra.FirstStringForwardKey()
		dl, ok := r.Deadline()
		got <- seen{r.ActorID, string(first), dl.Sub(now), ok, r.TL2, r.ConnID(), r.RemoteAddr().String()}
		extra := rpc.ResultExtra{Flags: rpc.ResultFlagBinlogPos | rpc.ResultFlagEnginePID, BinlogPos: 77}
		r.ReplyWithExtra(&extra, r.Body)
	})
	ts := startServer(t, Config{Handler: h, Now: func() time.Time { return now }, DefaultTimeout: time.Second})
	c := dial(t, ts.addr, packet.Config{})
	var extra rpc.InvokeReqExtra
	extra.SetCustomTimeoutMs(500)
	extra.Flags |= rpc.FlagStringForwardKeys | rpc.FlagReturnBinlogPos
	extra.StringForwardKeys = rpc.MakeStringVector("user42", "x")
	for _, tc := range []struct {
		name string
		req  rpc.InvokeReq
		want seen
	}{
		{"plain", rpc.InvokeReq{QueryID: 1, Body: fn(tagEcho)}, seen{deadline: time.Second, hasDL: true}},
		{"actor+extra", rpc.InvokeReq{QueryID: 2, ActorID: 9, Extra: extra, Body: fn(tagEcho)},
			seen{actor: 9, keys: "user42", deadline: 500 * time.Millisecond, hasDL: true}},
		{"tl2", rpc.InvokeReq{QueryID: 3, TL2: true, Body: fn(tagEcho)}, seen{deadline: time.Second, hasDL: true, tl2: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := c.call(&tc.req)
			s := recv(t, got, "handler")
			tc.want.connID, tc.want.remote = s.connID, c.nc.LocalAddr().String()
			if s != tc.want {
				t.Fatalf("handler saw %+v, want %+v", s, tc.want)
			}
			if res.TL2 != tc.req.TL2 || !bytes.Equal(res.Body, tc.req.Body) {
				t.Fatalf("result TL2 %v body % x", res.TL2, res.Body)
			}
			// Only binlog_pos was asked for, and only by the second request.
			wantExtra := tc.req.Extra.Flags & rpc.FlagReturnBinlogPos
			if res.Extra.Flags != wantExtra || (wantExtra != 0 && res.Extra.BinlogPos != 77) {
				t.Fatalf("result extra %+v, want flags %#x", res.Extra, wantExtra)
			}
		})
	}
}

// TestOutOfOrder: requests kept by the handler are answered later, in
// reverse order, from another goroutine; Retain keeps their bodies.
func TestOutOfOrder(t *testing.T) {
	leakCheck(t)
	const n = 50
	held := make(chan *Request, n)
	ts := startServer(t, Config{Handler: HandlerFunc(func(r *Request) {
		r.Retain()
		held <- r
	})})
	c := dial(t, ts.addr, packet.Config{})
	for i := range n {
		c.send(&rpc.InvokeReq{QueryID: int64(100 + i), Body: fn(tagEcho, byte(i), 0, 0, 0)})
	}
	reqs := make([]*Request, n)
	for i := range n {
		reqs[i] = recv(t, held, "request")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := n - 1; i >= 0; i-- {
			reqs[i].Reply(reqs[i].Body)
		}
	}()
	for i := n - 1; i >= 0; i-- {
		res := c.result()
		if res.QueryID != int64(100+i) || !bytes.Equal(res.Body, fn(tagEcho, byte(i), 0, 0, 0)) {
			t.Fatalf("answer %d: query %d body % x", i, res.QueryID, res.Body)
		}
	}
	<-done
	checkDrained(t, ts.Server)
}

func TestErrors(t *testing.T) {
	leakCheck(t)
	h := HandlerFunc(func(r *Request) {
		switch string(r.Body[4:]) {
		case "code":
			r.ReplyError(-5001, "custom failure")
		case "zero":
			r.ReplyError(0, "zero code")
		case "deadline":
			r.ReplyErr(fmt.Errorf("engine: %w", context.DeadlineExceeded))
		case "wrapped":
			r.ReplyErr(fmt.Errorf("engine: %w", &rpc.Error{Code: rpc.CodeNoConnections, Description: "down"}))
		case "panic":
			panic("boom")
		case "twice":
			r.Reply(fn(1))
			r.ReplyError(-1, "second")
		}
	})
	ts := startServer(t, Config{Handler: h})
	c := dial(t, ts.addr, packet.Config{})
	for i, tc := range []struct {
		body     string
		code     int32
		text     string
		okResult bool
	}{
		{"code", -5001, "custom failure", false},
		{"zero", rpc.CodeUnknown, "zero code", false},
		{"deadline", rpc.CodeQueryTimeout, "engine: context deadline exceeded", false},
		{"wrapped", rpc.CodeNoConnections, "down", false},
		{"panic", rpc.CodeInternal, "rpc/server: handler panic", false},
		{"twice", 0, "", true},
	} {
		t.Run(tc.body, func(t *testing.T) {
			res := c.call(&rpc.InvokeReq{QueryID: int64(i + 1), Body: append(fn(tagEcho), tc.body...)})
			if tc.okResult {
				if res.IsError() {
					t.Fatalf("error %d %q", res.ErrorCode, res.ErrorText)
				}
				return
			}
			if res.ErrorForm != rpc.ErrorFormNested || res.ErrorCode != tc.code || string(res.ErrorText) != tc.text {
				t.Fatalf("got form %d code %d %q, want %d %q", res.ErrorForm, res.ErrorCode, res.ErrorText, tc.code, tc.text)
			}
		})
	}
	// The server survived the panic and the double reply, and said so.
	if res := c.call(&rpc.InvokeReq{QueryID: 99, Body: append(fn(tagEcho), "code"...)}); res.ErrorCode != -5001 {
		t.Fatalf("after panic: %+v", res)
	}
	for _, want := range []string{"handler panic", "second reply ignored"} {
		if !strings.Contains(ts.log.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

// TestMalformedEnvelope: a hostile header chain is answered with
// HEADER (-1002) when the query id is readable; without one the
// connection is closed with a logged reason. Other connections go on.
func TestMalformedEnvelope(t *testing.T) {
	leakCheck(t)
	ts := startServer(t, Config{Handler: echo})
	good := dial(t, ts.addr, packet.Config{})
	qid := tl.AppendInt64(nil, 5)
	actor := append(tl.AppendUint32(nil, rpc.TagDestActor), tl.AppendInt64(nil, 1)...)
	for _, tc := range []struct {
		name   string
		body   []byte
		code   int32 // 0: the connection is closed
		logged string
	}{
		{"duplicate actor", append(append(append(bytes.Clone(qid), actor...), actor...), fn(tagEcho)...), rpc.CodeHeader, "malformed request envelope"},
		{"no function", bytes.Clone(qid), rpc.CodeHeader, "malformed request envelope"},
		{"truncated extra", append(tl.AppendUint32(bytes.Clone(qid), rpc.TagDestFlags), 0xff, 0xff, 0xff), rpc.CodeHeader, "malformed request envelope"},
		{"hostile vector count", append(tl.AppendUint32(tl.AppendUint32(tl.AppendUint32(bytes.Clone(qid), rpc.TagDestFlags), rpc.FlagIntForwardKeys), 0x7fffffff), 1, 2, 3, 4), rpc.CodeHeader, "malformed request envelope"},
		{"short query id", []byte{1, 2, 3}, 0, "request without query id"},
		{"empty", nil, 0, "request without query id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, ts.addr, packet.Config{})
			if err := c.pc.WritePacket(rpc.TypeInvokeReq, nil, tc.body); err != nil {
				t.Fatal(err)
			}
			if tc.code == 0 {
				if err := c.waitClosed(); err == nil {
					t.Fatal("connection not closed")
				}
			} else {
				res := c.result()
				if res.QueryID != 5 || res.ErrorCode != tc.code {
					t.Fatalf("got query %d code %d %q", res.QueryID, res.ErrorCode, res.ErrorText)
				}
			}
			if !strings.Contains(ts.log.String(), tc.logged) {
				t.Fatalf("log lacks %q:\n%s", tc.logged, ts.log.String())
			}
			if res := good.call(&rpc.InvokeReq{QueryID: 1, Body: fn(tagEcho)}); res.IsError() {
				t.Fatalf("good client: %+v", res)
			}
		})
	}
}

func TestNoResultAndUnknownTypes(t *testing.T) {
	leakCheck(t)
	replied := make(chan struct{}, 1)
	h := HandlerFunc(func(r *Request) {
		r.Reply(r.Body)
		replied <- struct{}{}
	})
	ts := startServer(t, Config{Handler: h})
	c := dial(t, ts.addr, packet.Config{})
	var extra rpc.InvokeReqExtra
	extra.Flags = rpc.FlagNoResult
	c.send(&rpc.InvokeReq{QueryID: 1, Extra: extra, Body: fn(tagEcho)})
	recv(t, replied, "no_result reply")
	// Unknown types and a server-only type are ignored, not fatal.
	for _, typ := range []uint32{0x12345678, rpc.TypeReqResult} {
		if err := c.pc.WritePacket(typ, nil, []byte{1, 2, 3, 4}); err != nil {
			t.Fatal(err)
		}
	}
	res := c.call(&rpc.InvokeReq{QueryID: 2, Body: fn(tagEcho)})
	<-replied
	if res.IsError() {
		t.Fatalf("%+v", res)
	}
	if got := ts.stats.active.Load(); got != 0 {
		t.Fatalf("%d requests still active", got)
	}
	if !strings.Contains(ts.log.String(), "unknown message type ignored") {
		t.Fatal("unknown type not logged")
	}
}

func TestResultTooLarge(t *testing.T) {
	leakCheck(t)
	h := SyncFunc(func(r *Request, dst []byte) ([]byte, error) {
		return append(dst, make([]byte, 4096)...), nil
	})
	ts := startServer(t, Config{Handler: h, MaxResponseBytes: 1024})
	c := dial(t, ts.addr, packet.Config{})
	res := c.call(&rpc.InvokeReq{QueryID: 1, Body: fn(tagEcho)})
	if res.ErrorCode != rpc.CodeResultTooLarge {
		t.Fatalf("got %+v", res)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no handler", Config{}, "Handler"},
		{"negative conns", Config{Handler: echo, MaxConns: -1}, "MaxConns"},
		{"tiny request bytes", Config{Handler: echo, MaxRequestBytes: 10}, "MaxRequestBytes"},
		{"tiny response", Config{Handler: echo, MaxResponseBytes: 10}, "MaxResponseBytes"},
		{"negative inflight", Config{Handler: echo, MaxInflightPerConn: -1}, "MaxInflightPerConn"},
		{"negative timeout", Config{Handler: echo, DefaultTimeout: -1}, "DefaultTimeout"},
		{"short key", Config{Handler: echo, Packet: packet.Config{Key: []byte("too short")}}, "Packet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrBadConfig naming %s", err, tc.want)
			}
		})
	}
}

// TestReplyResult: an upstream answer is passed on with this request's
// query id, its extra masked by this request's flags, errors normalised.
func TestReplyResult(t *testing.T) {
	leakCheck(t)
	upstream := map[string]*rpc.ReqResult{
		"ok":  {QueryID: 999, HasExtra: true, Extra: rpc.ResultExtra{Flags: rpc.ResultFlagBinlogPos | rpc.ResultFlagBinlogTime, BinlogPos: 5, BinlogTime: 6}, Body: fn(tagEcho, 1, 2, 3, 4)},
		"err": {QueryID: 999, ErrorForm: rpc.ErrorFormReqError, ErrorCode: -3002, ErrorText: []byte("engine down")},
	}
	h := HandlerFunc(func(r *Request) { r.ReplyResult(upstream[string(r.Body[4:])]) })
	ts := startServer(t, Config{Handler: h})
	c := dial(t, ts.addr, packet.Config{})
	var extra rpc.InvokeReqExtra
	extra.Flags = rpc.FlagReturnBinlogPos
	for _, tc := range []struct {
		name string
		want rpc.ReqResult
	}{
		{"ok", rpc.ReqResult{QueryID: 1, HasExtra: true, Extra: rpc.ResultExtra{Flags: rpc.ResultFlagBinlogPos, BinlogPos: 5}, Body: fn(tagEcho, 1, 2, 3, 4)}},
		{"err", rpc.ReqResult{QueryID: 1, ErrorForm: rpc.ErrorFormNested, ErrorCode: -3002, ErrorText: []byte("engine down"), Body: []byte{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := c.call(&rpc.InvokeReq{QueryID: 1, Extra: extra, Body: append(fn(tagEcho), tc.name...)})
			if fmt.Sprintf("%+v", *res) != fmt.Sprintf("%+v", tc.want) {
				t.Fatalf("got  %+v\nwant %+v", *res, tc.want)
			}
		})
	}
}
