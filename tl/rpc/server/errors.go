package server

import "errors"

// Sentinel errors.
var (
	// ErrServerClosed is returned by Serve after Shutdown or Close.
	ErrServerClosed = errors.New("rpc/server: server closed")
	// ErrBadConfig reports an invalid Config; the message names the field
	// and the limit.
	ErrBadConfig = errors.New("rpc/server: bad config")
)
