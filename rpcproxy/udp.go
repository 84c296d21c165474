package rpcproxy

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/rpcproxy/rpcproxy/configs"
	"github.com/rpcproxy/rpcproxy/rpcproxy/health"
	"github.com/rpcproxy/rpcproxy/rpcproxy/route"
	"github.com/rpcproxy/rpcproxy/rpcproxy/upstream"
	"github.com/rpcproxy/rpcproxy/tl/rpc/server"
	"github.com/rpcproxy/rpcproxy/tl/rpc/udp"
)

// listenUDP opens VK's UDP transport on the TCP listener's address (the
// same IP and port), keyed with proxy.key_file.
func (p *Proxy) listenUDP(a net.Addr) (*udp.Transport, error) {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return nil, fmt.Errorf("%v is not a TCP address", a)
	}
	sock, err := net.ListenUDP("udp4", &net.UDPAddr{IP: ta.IP, Port: ta.Port})
	if err != nil {
		return nil, err
	}
	tr, err := udp.New(sock, udp.Config{Keys: [][]byte{p.key}, Logger: p.log, IdleAfter: p.udpIdle})
	if err != nil {
		_ = sock.Close()
		return nil, err
	}
	return tr, nil
}

// serveUDP feeds the UDP transport's connections to the listener's server,
// the same handler as its TCP connections; the server closes the
// transport when it stops.
func (p *Proxy) serveUDP(l *listener) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := l.srv.ServeUDP(l.udp); err != nil && !errors.Is(err, server.ErrServerClosed) {
			p.log.Error("UDP listener stopped", "listen", l.addr.String(), "error", err.Error())
		}
	}()
}

// closeSockets closes what a server that never served does not know of.
func (l *listener) closeSockets() {
	_ = l.ln.Close()
	if l.udp != nil {
		_ = l.udp.Close()
	}
}

// UDPAddr returns the real address of the UDP side of the app listener
// configured at addr, or nil when UDP is off.
func (p *Proxy) UDPAddr(addr netip.AddrPort) net.Addr {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l := p.listeners[addr]; l != nil && l.udp != nil {
		return l.udp.LocalAddr()
	}
	return nil
}

// engineSource hands route.Build the pool, sending the engines of clusters
// with transport = "udp" to AcquireUDP. configs guarantees that an address
// has one transport in the whole file.
func (p *Proxy) engineSource(cfg *configs.Config) route.Engines {
	es := engineSource{Pool: p.pool}
	for i := range cfg.Clusters {
		c := &cfg.Clusters[i]
		if c.Transport != "udp" {
			continue
		}
		if es.udp == nil {
			es.udp = map[string]bool{}
		}
		for _, sh := range c.Shards {
			for _, r := range sh.Replicas {
				es.udp[r.Addr] = true
			}
		}
	}
	return es
}

type engineSource struct {
	*upstream.Pool
	udp map[string]bool // addresses of UDP engines
}

var _ route.Engines = engineSource{}

func (es engineSource) Acquire(addr string, s health.Settings, g *health.Group) *upstream.Engine {
	if es.udp[addr] {
		return es.AcquireUDP(addr, s, g)
	}
	return es.Pool.Acquire(addr, s, g)
}

// checkUDP refuses a config that needs UDP the proxy did not start with:
// the key is read once, at start.
func (p *Proxy) checkUDP(cfg *configs.Config) error {
	if p.key != nil {
		return nil
	}
	for i := range cfg.Clusters {
		if cfg.Clusters[i].Transport == "udp" {
			return fmt.Errorf("rpcproxy: cluster %q: transport = \"udp\" needs proxy.key_file when the proxy starts (a reload does not read it)", cfg.Clusters[i].Name)
		}
	}
	return nil
}
