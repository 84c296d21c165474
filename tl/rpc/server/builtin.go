package server

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/udp"
)

// Built-in engine functions and their result tags (wire.md §4.8).
const (
	TagEnginePID     uint32 = 0x559d6e36 // engine.pid = net.Pid
	TagEngineVersion uint32 = 0x1a2e06fa // engine.version = String
	TagEngineStat    uint32 = 0xefb3c36b // engine.stat = Stat
	TagNetPID        uint32 = 0x46409ccf // net.pid ip port_pid utime (bytes cf 9c 40 46)
	TagString        uint32 = 0xb5286e24 // boxed String
	TagStat          uint32 = 0x9d56e6b2 // Stat %(Dictionary string)
)

// builtin answers engine.pid, engine.version and engine.stat when enabled,
// reporting whether it did. During Shutdown engine.pid answers
// GRACEFUL_SHUTDOWN (-2014), as VK engines do.
func (s *Server) builtin(r *Request) bool {
	if !s.cfg.Engine.Enabled {
		return false
	}
	tag, ok := r.FunctionTag()
	if !ok {
		return false
	}
	out := r.out[:0]
	switch tag {
	case TagEnginePID:
		if s.stopping.Load() {
			// engine.pid is the health check: a stopping engine fails it
			// so that proxies move traffic away (wire.md §4.8).
			r.ReplyError(rpc.CodeGracefulShutdown, "rpc/server: shutting down")
			return true
		}
		p := r.conn.pc.LocalPID()
		out = tl.AppendUint32(out, TagNetPID)
		out = tl.AppendUint32(out, p.IP)
		out = tl.AppendUint32(out, p.PortPID)
		out = tl.AppendUint32(out, p.UTime)
	case TagEngineVersion:
		out = tl.AppendUint32(out, TagString)
		out = tl.AppendString(out, s.cfg.Engine.Version)
	case TagEngineStat:
		out = tl.AppendUint32(out, TagStat)
		out = appendStats(out, s.Stats(r.conn.pc.LocalAddr()))
	default:
		return false
	}
	r.Reply(out)
	r.out = out[:0]
	return true
}

// Stats returns the server counters, those of the UDP transports served
// (udp_*, when there are any) and the engine's own stats (from
// EngineConfig.Stats), the answer to engine.stat and to "stats". Keys
// follow VK's engine stats where one exists.
func (s *Server) Stats(local net.Addr) map[string]string {
	now := s.cfg.Now()
	itoa := func(v int64) string { return strconv.FormatInt(v, 10) }
	m := map[string]string{
		"version":               s.cfg.Engine.Version,
		"current_time":          itoa(now.Unix()),
		"start_time":            itoa(s.start.Unix()),
		"uptime":                itoa(int64(now.Sub(s.start) / time.Second)),
		"queries_total":         itoa(s.stats.requests.Load()),
		"queries_active":        itoa(s.stats.active.Load()),
		"clients_total":         itoa(s.stats.connsTotal.Load()),
		"clients_active":        itoa(s.stats.connsActive.Load()),
		"clients_rejected":      itoa(s.stats.connsRejected.Load()),
		"request_memory":        itoa(s.lim.RequestBytes()),
		"request_memory_limit":  itoa(s.lim.MaxRequestBytes()),
		"queries_malformed":     itoa(s.stats.malformed.Load()),
		"queries_oversized":     itoa(s.stats.oversized.Load()),
		"queries_cancelled":     itoa(s.stats.cancels.Load()),
		"responses_too_large":   itoa(s.stats.tooLarge.Load()),
		"handler_panics":        itoa(s.stats.panics.Load()),
		"clients_bad_input":     itoa(s.stats.badInput.Load()),
		"conn_inflight_waits":   itoa(s.stats.connWaits.Load()),
		"max_conns":             itoa(int64(s.lim.MaxConns())),
		"max_inflight_per_conn": itoa(int64(s.cfg.MaxInflightPerConn)),
	}
	if local != nil {
		m["local_addr"] = local.String()
	}
	s.udpStats(m)
	if s.cfg.Engine.Stats != nil {
		s.cfg.Engine.Stats(func(k, v string) { m[k] = v })
	}
	return m
}

// udpStats adds the counters of the UDP transports served, summed, when
// there are any: peers open and parked, and what the transport did for
// them (resends, resets, drops of bad datagrams).
func (s *Server) udpStats(m map[string]string) {
	s.mu.Lock()
	ts := make([]*udp.Transport, 0, len(s.transports))
	for t := range s.transports {
		ts = append(ts, t)
	}
	s.mu.Unlock()
	if len(ts) == 0 {
		return
	}
	var conns, dormant int
	var accepted, parked, revived, evicted, resets, resent, in, out, dropped uint64
	for _, t := range ts {
		st := t.Stats()
		conns, dormant = conns+st.Conns, dormant+st.Dormant
		accepted, parked, revived, evicted = accepted+st.Accepted, parked+st.Parked, revived+st.Revived, evicted+st.Evicted
		resets, resent = resets+st.Resets, resent+st.ChunksResent
		in, out, dropped = in+st.DatagramsIn, out+st.DatagramsOut, dropped+st.DroppedTotal()
	}
	for k, v := range map[string]uint64{
		"udp_conns": uint64(conns), "udp_dormant": uint64(dormant), "udp_accepted": accepted,
		"udp_parked": parked, "udp_revived": revived, "udp_evicted": evicted, "udp_resets": resets,
		"udp_chunks_resent": resent, "udp_datagrams_in": in, "udp_datagrams_out": out, "udp_datagrams_dropped": dropped,
	} {
		m[k] = strconv.FormatUint(v, 10)
	}
}

func appendStats(dst []byte, m map[string]string) []byte {
	keys := sortedKeys(m)
	dst = tl.AppendUint32(dst, uint32(len(keys)))
	for _, k := range keys {
		dst = tl.AppendString(dst, k)
		dst = tl.AppendString(dst, m[k])
	}
	return dst
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// answerText answers the memcached text commands VK engines answer on
// their RPC port (wire.md §3.6): "stats" as "key value\r\n" lines and
// "END\r\n", "version" as "VERSION v\r\n". Other text is logged and the
// connection closed by the caller.
func (s *Server) answerText(nc net.Conn, head []byte) {
	cmd := string(head)
	var out []byte
	switch {
	case !s.cfg.Engine.Enabled:
	case strings.HasPrefix(cmd, "stats\r\n"), strings.HasPrefix(cmd, "stats\n"), strings.HasPrefix(cmd, "get stats\r\n"):
		m := s.Stats(nc.LocalAddr())
		for _, k := range sortedKeys(m) {
			out = append(out, k...)
			out = append(out, ' ')
			out = append(out, m[k]...)
			out = append(out, "\r\n"...)
		}
		out = append(out, "END\r\n"...)
	case strings.HasPrefix(cmd, "version\r\n"):
		out = append(append(append(out, "VERSION "...), s.cfg.Engine.Version...), "\r\n"...)
	}
	if out == nil {
		s.log.Info("rpc/server: text protocol connection closed", "head", strconv.Quote(cmd), "remote", nc.RemoteAddr())
		return
	}
	_ = nc.SetWriteDeadline(time.Now().Add(s.cfg.Packet.PacketTimeout))
	if _, err := nc.Write(out); err != nil {
		s.log.Info("rpc/server: text answer not written", "reason", err.Error(), "remote", nc.RemoteAddr())
	}
}
