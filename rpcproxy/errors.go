package rpcproxy

import (
	"errors"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// Errors the proxy answers itself. Every error an app sees is an *rpc.Error
// (these, route's PROXY_NO_TARGET and upstream's per-engine ones), passed
// through rpc.ErrorOf by the server: that is the one mapping to TL codes.
var (
	errExpired   = &rpc.Error{Code: rpc.CodeQueryTimeout, Description: "rpcproxy: the request's timeout expired before it could be forwarded"}
	errCancelled = &rpc.Error{Code: rpc.CodeUnknown, Description: "rpcproxy: cancelled by the client"}
	errAppSlow   = &rpc.Error{Code: rpc.CodeCongestionControlDiscard, Description: "rpcproxy: answer dropped: this connection is not reading its answers (its pending answers reached their cap, or all apps' reached proxy.max_response_bytes_in_flight)"}
	errHeldFull  = &rpc.Error{Code: rpc.CodeCongestionControlDiscard, Description: "rpcproxy: shard answer dropped: the proxy holds proxy.max_response_bytes_in_flight of answers (for apps not reading them, and fan-outs waiting for their shards)"}
)

// ErrStopped is returned by Reload and Apply after Shutdown or Close began.
var ErrStopped = errors.New("rpcproxy: stopped")
