package client

import (
	"context"
	"errors"
	"fmt"
)

// Sentinel errors. Every error a call returns wraps one of these, an
// *rpc.Error answered by the server, or a request validation error.
var (
	// ErrConnLost: the connection broke while the call was in flight. The
	// concrete error is a *ConnError naming the address and the cause.
	ErrConnLost = errors.New("rpc/client: connection lost")
	// ErrNoConnection: FailFast is set and the address is known to be
	// down (the last dial failed). The concrete error is a *ConnError.
	ErrNoConnection = errors.New("rpc/client: no connection")
	// ErrTimeout: the call's deadline passed before an answer arrived. It
	// wraps context.DeadlineExceeded, so both errors.Is checks hold.
	ErrTimeout = fmt.Errorf("rpc/client: request timeout: %w", context.DeadlineExceeded)
	// ErrCanceled: the context was canceled before the deadline (or Cancel
	// was called); rpcCancelReq was sent if the request had been sent. It
	// wraps context.Canceled.
	ErrCanceled = fmt.Errorf("rpc/client: request canceled: %w", context.Canceled)
	// ErrClosed: the Client was closed.
	ErrClosed = errors.New("rpc/client: client closed")
	// ErrBadOptions: New was given invalid Options; the message names the field.
	ErrBadOptions = errors.New("rpc/client: bad options")
	// ErrBadRequest: the request cannot be sent (negative custom timeout,
	// body too large, missing function tag).
	ErrBadRequest = errors.New("rpc/client: bad request")
)

// ConnError reports a connection-level failure for one address. Err is
// ErrConnLost or ErrNoConnection; Cause is what broke (a dial error, a
// packet error, io.EOF...). errors.Is matches both.
type ConnError struct {
	Addr  string
	Err   error
	Cause error
}

func (e *ConnError) Error() string {
	if e.Cause == nil {
		return fmt.Sprintf("%v: %s", e.Err, e.Addr)
	}
	return fmt.Sprintf("%v: %s: %v", e.Err, e.Addr, e.Cause)
}

// Unwrap returns the sentinel and the cause.
func (e *ConnError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}
