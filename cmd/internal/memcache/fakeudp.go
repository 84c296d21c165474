package memcache

import (
	"errors"
	"net"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/udp"
)

// startUDP serves the Fake over tl/rpc/udp: one accept loop, one reader
// per connection answering in order (tl/rpc/server speaks TCP only).
func (f *Fake) startUDP() error {
	sock, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	tr, err := udp.New(sock, udp.Config{Keys: [][]byte{f.cfg.UDPKey}})
	if err != nil {
		_ = sock.Close()
		return err
	}
	f.udp = tr
	f.wg.Add(1)
	go f.acceptUDP()
	return nil
}

func (f *Fake) acceptUDP() {
	defer f.wg.Done()
	for {
		c, err := f.udp.Accept()
		if err != nil {
			return
		}
		f.wg.Add(1)
		go f.serveUDP(c)
	}
}

// serveUDP answers the requests of one connection until it ends.
func (f *Fake) serveUDP(c *udp.Conn) {
	defer f.wg.Done()
	var req rpc.InvokeReq
	var head, out []byte
	for {
		typ, body, err := c.ReadPacket()
		if err != nil {
			return
		}
		if typ != rpc.TypeInvokeReq || rpc.ParseInvokeReq(body, &req) != nil {
			continue // cancels and fins need no answer; junk gets none
		}
		out, err = f.call(req.ActorID, &req.Extra, req.Body, out[:0])
		var extra *rpc.ResultExtra
		if err == nil && req.Extra.Flags&rpc.FlagReturnBinlogPos != 0 {
			extra = &rpc.ResultExtra{Flags: rpc.ResultFlagBinlogPos, BinlogPos: f.cfg.BinlogPos}
		}
		head = rpc.AppendResultHeader(head[:0], req.QueryID, extra, req.Extra.Flags, false)
		var re *rpc.Error
		if errors.As(err, &re) {
			out = rpc.AppendErrorBody(out[:0], req.QueryID, re.Code, re.Description)
		}
		if c.WritePacket(rpc.TypeReqResult, head, out) != nil {
			return
		}
	}
}
