package main

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// bufSize is the copy buffer of each direction of each connection: big
// enough that one read takes whatever a pipelined burst left queued.
const bufSize = 64 << 10

// dialTimeout bounds the connect to the target; on loopback a refusal is
// immediate, so this only matters for a target that does not accept.
const dialTimeout = 2 * time.Second

// relay pairs each accepted connection with one of its own to the target
// and copies between them. It tracks every open connection so that a
// stop closes them all.
type relay struct {
	to       string
	log      *slog.Logger
	dialer   net.Dialer
	accepted atomic.Int64

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	stopped bool
	wg      sync.WaitGroup // one per pair
}

func newRelay(to string, log *slog.Logger) *relay {
	return &relay{to: to, log: log, dialer: net.Dialer{Timeout: dialTimeout}, conns: make(map[net.Conn]struct{})}
}

// serve accepts on ln until ctx ends, then closes ln and every
// connection and waits for every pair to end. It returns nil after a
// stop, or the error that made Accept fail otherwise.
func (r *relay) serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() {
		_ = ln.Close()
		r.closeAll()
	})
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			r.closeAll()
			r.wg.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		r.accepted.Add(1)
		r.wg.Add(1)
		go r.pair(ctx, c)
	}
}

// pair relays between app and a new connection to the target until
// either side ends, then closes both.
func (r *relay) pair(ctx context.Context, app net.Conn) {
	defer r.wg.Done()
	if !r.track(app) {
		return
	}
	defer r.untrack(app)
	up, err := r.dialer.DialContext(ctx, "tcp", r.to)
	if err != nil {
		r.log.Warn("relay: cannot reach the target; closing the app's connection (is the engine running?)",
			"to", r.to, "remote", app.RemoteAddr().String(), "reason", err.Error())
		return
	}
	if !r.track(up) {
		return
	}
	defer r.untrack(up)
	r.log.Debug("relay: connection", "remote", app.RemoteAddr().String(), "to", r.to)
	done := make(chan int64, 1)
	go func() {
		done <- copyBytes(up, app)
		_, _ = up.Close(), app.Close() // the other direction's read returns
	}()
	toApp := copyBytes(app, up)
	_, _ = up.Close(), app.Close()
	toUp := <-done
	r.log.Debug("relay: connection closed", "remote", app.RemoteAddr().String(), "bytes_to_target", toUp, "bytes_to_app", toApp)
}

// copyBytes copies src to dst until either fails or src ends, and
// returns the bytes copied. It reads into its own buffer and writes from
// it, never io.Copy: between two TCP connections that would splice in
// the kernel, which no proxy that reads its requests can do (doc.go).
func copyBytes(dst, src net.Conn) int64 {
	buf := make([]byte, bufSize)
	var total int64
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return total
			}
			total += int64(n)
		}
		if err != nil {
			return total
		}
	}
}

// track records c as open, or closes it if the relay has stopped.
func (r *relay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		_ = c.Close()
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

// untrack closes c and forgets it.
func (r *relay) untrack(c net.Conn) {
	_ = c.Close()
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
}

// closeAll stops the relay: every open connection is closed, and any
// opened later is closed at once.
func (r *relay) closeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	for c := range r.conns {
		_ = c.Close()
	}
}
