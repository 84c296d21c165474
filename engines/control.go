package engines

import (
	"fmt"
	"time"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/server"
)

// debugSetFaults serves engine.debugSetFaults latency_ms:int
// error_rate_ppm:int stall:Bool = True. Out-of-range values are
// VALUE_NOT_IN_RANGE.
func (s *Server) debugSetFaults(_ *server.Request, args, dst []byte) ([]byte, error) {
	ms, r, err := tl.ReadInt32(args)
	if err != nil {
		return dst, fmt.Errorf("latency_ms: %w", err)
	}
	ppm, r, err := tl.ReadInt32(r)
	if err != nil {
		return dst, fmt.Errorf("error_rate_ppm: %w", err)
	}
	stall, r, err := tl.ReadBool(r)
	if err != nil {
		return dst, fmt.Errorf("stall: %w", err)
	}
	if err := End(r); err != nil {
		return dst, err
	}
	f := Faults{Latency: time.Duration(ms) * time.Millisecond, ErrorPPM: int(ppm), Stall: stall}
	if err := s.SetFaults(f); err != nil {
		return dst, &rpc.Error{Code: rpc.CodeValueNotInRange, Description: err.Error()}
	}
	return tl.AppendUint32(dst, tl.TagTrue), nil
}

// AppendDebugSetFaults appends an engine.debugSetFaults call (tag first),
// for tests and tools that slow an engine down over the wire.
func AppendDebugSetFaults(dst []byte, f Faults) []byte {
	dst = tl.AppendUint32(dst, TagDebugSetFaults)
	dst = tl.AppendInt32(dst, int32(f.Latency/time.Millisecond))
	dst = tl.AppendInt32(dst, int32(f.ErrorPPM))
	return tl.AppendBool(dst, f.Stall)
}
