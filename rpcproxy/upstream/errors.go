package upstream

import (
	"errors"
	"fmt"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// EngineError is "this engine failed": a dial, handshake or connection
// failure of the engine at Addr, wrapping the cause. It is what logs and
// health transitions report; requests get the engine's prebuilt *rpc.Error.
type EngineError struct {
	Addr string
	Op   string // "dial", "handshake", "read", "probe"
	Err  error
}

func (e *EngineError) Error() string {
	return fmt.Sprintf("upstream: engine %s: %s: %v", e.Addr, e.Op, e.Err)
}

func (e *EngineError) Unwrap() error { return e.Err }

// engineErrors are the answers a failing engine gives without I/O, built
// once per engine so the fail-fast path does not allocate. rpc.ErrorOf sends
// them as they are.
type engineErrors struct {
	down, notConnected, backlog, busy, timeout, lost, closed, invalid *rpc.Error
}

func newEngineErrors(addr string) engineErrors {
	e := func(code int32, format string) *rpc.Error {
		return &rpc.Error{Code: code, Description: fmt.Sprintf(format, addr)}
	}
	return engineErrors{
		down:         e(rpc.CodeNoConnections, "rpcproxy: engine %s is down"),
		notConnected: e(rpc.CodeNoConnections, "rpcproxy: engine %s is not connected"),
		backlog:      e(rpc.CodeNoConnections, "rpcproxy: engine %s is not reading (send queue full)"),
		busy:         e(rpc.CodeTooManyRequests, "rpcproxy: engine %s has max_inflight requests in flight"),
		timeout:      e(rpc.CodeQueryTimeout, "rpcproxy: engine %s did not answer before the deadline"),
		lost:         e(rpc.CodeNoConnections, "rpcproxy: connection to engine %s lost"),
		closed:       e(rpc.CodeNoConnections, "rpcproxy: engine %s was removed from the config"),
		invalid:      e(rpc.CodeProxyInvalidResponse, "rpcproxy: engine %s sent an invalid answer"),
	}
}

// errDialing means another goroutine is dialling the engine (or it closed):
// not a failure of the engine, so no transition is reported.
var errDialing = errors.New("upstream: already dialling")
