package packet

import (
	"crypto/ecdh"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"time"
)

// maxTimeSkew: AES peers must agree on the time within this (wire.md §3.4).
const maxTimeSkew = 30

// ClientHandshake runs the client side of the nonce and handshake exchange
// on nc, each step bounded by PacketTimeout, and returns the connection
// with its flusher running. On error nc is closed and the reason logged.
func ClientHandshake(nc net.Conn, cfg Config) (*Conn, error) {
	s, err := cfg.settings(false)
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	c := newConn(nc, &s, false)
	if err := c.clientHandshake(&s); err != nil {
		return nil, c.handshakeFailed(&s, "client", err)
	}
	c.start()
	return c, nil
}

// ServerHandshake runs the server side. On error nc is closed and the
// reason logged, except for a *TextProtocolError (errors.Is(err,
// ErrTextProtocol)): then nc is left open so the caller can answer the
// text command and close it.
func ServerHandshake(nc net.Conn, cfg Config) (*Conn, error) {
	s, err := cfg.settings(true)
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	c := newConn(nc, &s, true)
	if err := c.serverHandshake(&s); err != nil {
		return nil, c.handshakeFailed(&s, "server", err)
	}
	c.start()
	return c, nil
}

func (c *Conn) handshakeFailed(s *settings, side string, err error) error {
	if !errors.Is(err, ErrHandshake) {
		err = fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	var text *TextProtocolError
	if errors.As(err, &text) {
		_ = c.nc.SetDeadline(time.Time{})
		s.Logger.Info("rpc/packet: text protocol on RPC socket", "head", string(text.Head),
			"local", c.nc.LocalAddr(), "remote", c.nc.RemoteAddr())
		return err
	}
	_ = c.nc.Close()
	if c.server && c.rd.seq == seqNonce && c.rd.w == 0 && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
		// Closed before sending a byte: a TCP health check or a port
		// scan, every few seconds from each monitor. Routine.
		s.Logger.Debug("rpc/packet: peer closed before the handshake", "local", c.nc.LocalAddr(), "remote", c.nc.RemoteAddr())
		return err
	}
	if n, ok := s.WarnLimit.Allow(); ok {
		s.Logger.Warn("rpc/packet: "+side+" handshake failed", "reason", err.Error(),
			"local", c.nc.LocalAddr(), "remote", c.nc.RemoteAddr(), "unlogged", n)
	}
	return err
}

// readStep reads one handshake-phase packet under a fresh step deadline.
func (c *Conn) readStep() (uint32, []byte, error) {
	if err := c.rd.setDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, nil, err
	}
	return c.rd.next(c.server)
}

// writeStep frames and writes one handshake-phase packet synchronously.
func (c *Conn) writeStep(typ uint32, body []byte) error {
	if err := c.appendLocked(typ, nil, body); err != nil {
		return err
	}
	_, err := c.flushOnce()
	return err
}

func (c *Conn) setVersion(v uint8) {
	c.version = uint32(v)
	c.rd.version = uint32(v)
}

// startCrypto turns AES on for both directions. The caller has just written
// (server) or read (client) the plain nonce, so the stream position is
// exactly the start of the handshake packet in each direction.
func (c *Conn) startCrypto(write, read sessionKey) error {
	enc, err := write.encrypter()
	if err != nil {
		return err
	}
	dec, err := read.decrypter()
	if err != nil {
		return err
	}
	c.enc = enc
	c.walign = true
	c.rd.startDecrypt(dec)
	c.encrypted = true
	return nil
}

// startCRC32C switches both directions after the handshake pair.
func (c *Conn) startCRC32C() {
	c.wtab = castagnoli()
	c.rd.tab = c.wtab
}

func (c *Conn) clientHandshake(s *settings) error {
	local, remote := c.nc.LocalAddr(), c.nc.RemoteAddr()
	cn := nonceMsg{Version: uint8(s.ProtocolVersion.Wire()), Time: uint32(s.Now().Unix())}
	if s.Key != nil {
		cn.KeyID = keyID(s.Key)
	}
	if _, err := io.ReadFull(s.Rand, cn.Nonce[:]); err != nil {
		return fmt.Errorf("rpc/packet: nonce: %w", err)
	}
	var priv *ecdh.PrivateKey
	if cn.Version >= 2 {
		var err error
		if priv, err = newX25519(s.Rand); err != nil {
			return err
		}
		copy(cn.DHPoint[:], priv.PublicKey().Bytes())
	}
	switch {
	case s.ForceEncryption || !trusted(local, remote, s.TrustedSubnets):
		if s.Key == nil {
			return fmt.Errorf("%w: peer %v is not local or trusted and Config.Key is empty", ErrEncryptionRequired, remote)
		}
		cn.Schema = schemaAES
	case s.Key != nil:
		cn.Schema = schemaNoneOrAES
	default:
		cn.Schema = schemaNone
	}
	var scratch [nonceLenV2]byte
	if err := c.writeStep(TypeNonce, cn.appendTo(scratch[:0])); err != nil {
		return err
	}

	_, body, err := c.readStep()
	if err != nil {
		return err
	}
	sn, err := parseNonce(body)
	if err != nil {
		return err
	}
	switch {
	case sn.Schema != schemaNone && sn.Schema != schemaAES:
		return fmt.Errorf("%w: server chose encryption schema %d", ErrHandshake, sn.Schema)
	case cn.Schema == schemaAES && sn.Schema != schemaAES:
		return fmt.Errorf("%w: server %v refused AES", ErrEncryptionRequired, remote)
	case sn.Schema == schemaAES && s.Key == nil:
		return fmt.Errorf("%w: server %v chose AES but Config.Key is empty", ErrEncryptionRequired, remote)
	case sn.Version > cn.Version:
		return fmt.Errorf("%w: asked for protocol version %d, server chose %d", ErrHandshake, cn.Version, sn.Version)
	}
	c.setVersion(sn.Version)
	if sn.Schema == schemaAES {
		if err := checkSkew(cn.Time, sn.Time); err != nil {
			return err
		}
		in := keyInput{Secret: s.Key, ClientNonce: cn.Nonce, ServerNonce: sn.Nonce, ClientTime: cn.Time}
		if err := in.fill(sn.Version, sn.Time, local, remote, priv, sn.DHPoint); err != nil {
			return err
		}
		if err := c.startCrypto(in.derive(true), in.derive(false)); err != nil {
			return err
		}
		c.keyID = cn.KeyID
	}

	flags := s.HandshakeFlags | FlagCancelReq
	if !s.DisableCRC32C {
		flags |= FlagCRC32C
	}
	c.localPID = localPID(s, local, false)
	ch := handshakeMsg{Flags: flags, Sender: c.localPID}
	if err := c.writeStep(TypeHandshake, ch.appendTo(scratch[:0])); err != nil {
		return err
	}
	_, body, err = c.readStep()
	if err != nil {
		return err
	}
	sh, err := parseHandshake(body)
	if err != nil {
		return err
	}
	c.peerFlags, c.peerPID = sh.Flags, sh.Sender
	if sh.Flags&FlagCRC32C != 0 {
		if s.DisableCRC32C {
			return fmt.Errorf("%w: server turned on CRC32C that we did not ask for", ErrHandshake)
		}
		c.startCRC32C()
	}
	return nil
}

func (c *Conn) serverHandshake(s *settings) error {
	local, remote := c.nc.LocalAddr(), c.nc.RemoteAddr()
	_, body, err := c.readStep()
	if err != nil {
		return err
	}
	cn, err := parseNonce(body)
	if err != nil {
		return err
	}
	sn := nonceMsg{Version: min(cn.Version, latestWireVersion)}
	var key []byte
	var priv *ecdh.PrivateKey
	require := s.ForceEncryption || !trusted(local, remote, s.TrustedSubnets)
	switch {
	case cn.Schema != schemaAES && !require:
		// Plain: KeyID, time and nonce stay zero, as VK's server sends.
	case cn.Schema == schemaNone:
		return fmt.Errorf("%w: client %v offers no encryption", ErrEncryptionRequired, remote)
	default:
		sn.Schema = schemaAES
		sn.KeyID = cn.KeyID
		sn.Time = uint32(s.Now().Unix())
		if err := checkSkew(cn.Time, sn.Time); err != nil {
			return err
		}
		if key = lookupKey(s.keys, cn.KeyID); key == nil {
			return fmt.Errorf("%w: client %v KeyID %x matches none of %d keys", ErrUnknownKey, remote, cn.KeyID, len(s.keys))
		}
		if _, err := io.ReadFull(s.Rand, sn.Nonce[:]); err != nil {
			return fmt.Errorf("rpc/packet: nonce: %w", err)
		}
		if sn.Version >= 2 {
			if priv, err = newX25519(s.Rand); err != nil {
				return err
			}
			copy(sn.DHPoint[:], priv.PublicKey().Bytes())
		}
	}
	var scratch [nonceLenV2]byte
	if err := c.writeStep(TypeNonce, sn.appendTo(scratch[:0])); err != nil {
		return err
	}
	c.setVersion(sn.Version)
	if sn.Schema == schemaAES {
		in := keyInput{Secret: key, ClientNonce: cn.Nonce, ServerNonce: sn.Nonce, ClientTime: cn.Time}
		if err := in.fill(sn.Version, sn.Time, remote, local, priv, cn.DHPoint); err != nil {
			return err
		}
		if err := c.startCrypto(in.derive(false), in.derive(true)); err != nil {
			return err
		}
		c.keyID = sn.KeyID
	}

	_, body, err = c.readStep()
	if err != nil {
		return err
	}
	ch, err := parseHandshake(body)
	if err != nil {
		return err
	}
	c.peerFlags, c.peerPID = ch.Flags, ch.Sender
	c.localPID = localPID(s, local, true)
	sh := handshakeMsg{Flags: ch.Flags & (FlagCRC32C | FlagCancelReq), Sender: c.localPID, Peer: ch.Sender}
	if err := c.writeStep(TypeHandshake, sh.appendTo(scratch[:0])); err != nil {
		return err
	}
	if ch.Flags&FlagCRC32C != 0 {
		c.startCRC32C()
	}
	return nil
}

// fill completes the key input: version 0 mixes in addresses and ports,
// later versions the server time, version 2 the X25519 shared secret.
func (in *keyInput) fill(version uint8, serverTime uint32, client, server net.Addr, priv *ecdh.PrivateKey, peerPoint [32]byte) error {
	if version == 0 {
		in.ClientIP, in.ClientPort = ipPort(client)
		in.ServerIP, in.ServerPort = ipPort(server)
	} else {
		in.ServerIP = serverTime
	}
	if version >= 2 {
		pub, err := ecdh.X25519().NewPublicKey(peerPoint[:])
		if err != nil {
			return fmt.Errorf("%w: peer X25519 point: %w", ErrHandshake, err)
		}
		secret, err := priv.ECDH(pub)
		if err != nil {
			return fmt.Errorf("%w: X25519: %w", ErrHandshake, err)
		}
		in.DHSecret = secret
	}
	return nil
}

func newX25519(rand io.Reader) (*ecdh.PrivateKey, error) {
	var scalar [32]byte
	if _, err := io.ReadFull(rand, scalar[:]); err != nil {
		return nil, fmt.Errorf("rpc/packet: X25519 scalar: %w", err)
	}
	return ecdh.X25519().NewPrivateKey(scalar[:])
}

func checkSkew(clientTime, serverTime uint32) error {
	if dt := int64(clientTime) - int64(serverTime); dt < -maxTimeSkew || dt > maxTimeSkew {
		return fmt.Errorf("%w: client-server time delta %ds over %ds", ErrTimeSkew, dt, maxTimeSkew)
	}
	return nil
}

func lookupKey(keys [][]byte, id [4]byte) []byte {
	if id == [4]byte{} {
		return nil
	}
	for _, k := range keys {
		if keyID(k) == id {
			return k
		}
	}
	return nil
}

// localPID fills the zero fields of the configured PID.
func localPID(s *settings, local net.Addr, server bool) PID {
	p := s.LocalPID
	ip, port := ipPort(local)
	if p.IP == 0 {
		p.IP = ip
	}
	if p.Port() == 0 && server {
		p.PortPID |= uint32(port)
	}
	if p.ProcessID() == 0 {
		p.PortPID |= uint32(uint16(os.Getpid())) << 16
	}
	if p.UTime == 0 {
		if s.UTime != nil {
			p.UTime = s.UTime()
		} else {
			p.UTime = uint32(s.Now().Unix())
		}
	}
	return p
}

// trusted reports whether two endpoints need no encryption: both loopback,
// both Unix sockets, or both inside one trusted subnet group.
func trusted(local, remote net.Addr, groups [][]netip.Prefix) bool {
	if _, ok := local.(*net.UnixAddr); ok {
		_, ok2 := remote.(*net.UnixAddr)
		return ok2
	}
	l, ok1 := local.(*net.TCPAddr)
	r, ok2 := remote.(*net.TCPAddr)
	if !ok1 || !ok2 {
		return false
	}
	if l.IP.IsLoopback() && r.IP.IsLoopback() {
		return true
	}
	la, okl := netip.AddrFromSlice(l.IP)
	ra, okr := netip.AddrFromSlice(r.IP)
	if !okl || !okr {
		return false
	}
	la, ra = la.Unmap(), ra.Unmap()
	for _, g := range groups {
		var inL, inR bool
		for _, p := range g {
			inL = inL || p.Contains(la)
			inR = inR || p.Contains(ra)
		}
		if inL && inR {
			return true
		}
	}
	return false
}
