package server_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/server"
)

// A simple engine answers on the reader goroutine with SyncFunc; the
// built-in engine.pid/version/stat answers are switched on.
func Example_engine() {
	const tagGet, tagValue = 0x12345678, 0x9abcdef0
	h := server.SyncFunc(func(r *server.Request, dst []byte) ([]byte, error) {
		if tag, _ := r.FunctionTag(); tag != tagGet {
			return nil, &rpc.Error{Code: rpc.CodeUnknownFunctionID, Description: "unknown function"}
		}
		return tl.AppendString(tl.AppendUint32(dst, tagValue), "value"), nil
	})
	srv, err := server.New(server.Config{
		Handler: h,
		Logger:  slog.New(slog.NewTextHandler(os.Stderr, nil)),
		Engine:  server.EngineConfig{Enabled: true, Version: "example 1.0"},
	})
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, server.ErrServerClosed) {
			panic(err)
		}
	}()
	_ = srv.Shutdown(context.Background())
	// Output:
}

// forwarder is the shape of a proxy handler: it sends Body upstream while
// ServeRPC runs (the upstream write copies it), keeps the Request, and
// answers when the upstream answer arrives on another goroutine.
type forwarder struct {
	send func(body []byte, done func(res *rpc.ReqResult)) // an upstream client, say
}

func (f forwarder) ServeRPC(r *server.Request) {
	f.send(r.Body, func(res *rpc.ReqResult) { r.ReplyResult(res) })
}

// CancelRPC gets the client's rpcCancelReq: a forwarder that keeps its
// calls in flight with the connection (Request.SetConnValue) would find
// queryID among them and cancel the upstream call, whose answer (or an
// error) still replies. It reports whether the query was in flight.
func (f forwarder) CancelRPC(conn any, queryID int64) bool { return false }

var (
	_ server.Handler  = forwarder{}
	_ server.Canceler = forwarder{}
)
