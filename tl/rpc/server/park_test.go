package server

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	vk "github.com/VKCOM/tl/pkg/rpc"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/udp"
)

// vkUDPClient is VK's client on its own UDP socket.
func vkUDPClient(t *testing.T) vk.Client {
	t.Helper()
	cl := vk.NewClient(vk.ClientWithLogf(func(string, ...any) {}),
		vk.ClientWithCryptoKey(string(testKey)),
		vk.ClientWithExperimentalLocalUDPAddress("127.0.0.1:0"))
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// vkEcho calls echo with payload p through VK's client over UDP.
func vkEcho(t *testing.T, cl vk.Client, addr string, p byte) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	body := fn(tagEcho, p, p, p, p)
	req := cl.GetRequest()
	req.Body = append(req.Body, body...)
	resp, err := cl.Do(ctx, "udp4", addr, req)
	if err != nil {
		return err
	}
	defer cl.PutResponse(resp)
	if string(resp.Body) != string(body) {
		t.Fatalf("echo %d: got %x", p, resp.Body)
	}
	return nil
}

// vkCallActor9 calls addr for actor 9 (the actor the tests' handlers
// hold) on a goroutine of its own; the channel gets the call's error.
func vkCallActor9(cl vk.Client, addr string, body []byte) <-chan error {
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		req := cl.GetRequest()
		req.ActorID = 9
		req.Body = append(req.Body, body...)
		resp, err := cl.Do(ctx, "udp4", addr, req)
		if err == nil {
			cl.PutResponse(resp)
		}
		errc <- err
	}()
	return errc
}

// waitStats polls tr's stats until cond holds, and returns them.
func waitStats(t *testing.T, tr *udp.Transport, what string, cond func(udp.Stats) bool) udp.Stats {
	t.Helper()
	var st udp.Stats
	if !poll(func() bool { st = tr.Stats(); return cond(st) }) {
		t.Fatalf("timed out waiting for %s: %+v", what, st)
	}
	return st
}

// pollUntil checks cond until it holds.
func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !poll(cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// poll checks cond every millisecond until it holds (true) or wait
// passes (false).
func poll(cond func() bool) bool {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(wait)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			return false
		}
	}
	return true
}

// TestInteropVKClientUDPParked: VK's UDP client against ServeUDP with
// IdleAfter. Between calls its connection is parked: the server's
// connection goroutine ends and MaxConns counts it no more. Each next call
// brings it back, unnoticed by VK's client. A request still being worked
// on keeps its connection however long it takes.
func TestInteropVKClientUDPParked(t *testing.T) {
	if raceEnabled {
		t.Skip("VK's UDP transport races internally; run without -race (make test does)")
	}
	leakCheck(t)
	release := make(chan struct{})
	h := HandlerFunc(func(r *Request) {
		if r.ActorID != 9 {
			r.Reply(r.Body)
			return
		}
		body := bytes.Clone(r.Body)
		go func() {
			<-release
			r.Reply(body)
		}()
	})
	s, tr, addr, _ := startUDPServerWith(t, Config{Handler: h, MaxConns: 1}, udp.Config{IdleAfter: 20 * time.Millisecond})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release) // the test failed while the request was held
		}
	})
	cl := vkUDPClient(t)
	for round := range 3 {
		if err := vkEcho(t, cl, addr, byte(round)); err != nil {
			t.Fatalf("call %d: %v", round, err)
		}
		waitStats(t, tr, "the connection parked", func(st udp.Stats) bool { return st.Parked == uint64(round+1) })
		pollUntil(t, "the connection goroutine to end", func() bool { return s.Counters().ConnsActive == 0 })
		if st := tr.Stats(); st.Conns != 0 || st.Dormant != 1 || st.Revived != uint64(round) {
			t.Fatalf("round %d: %+v", round, st)
		}
	}
	// A second app fits under MaxConns 1 now that the first is parked.
	if err := vkEcho(t, vkUDPClient(t), addr, 42); err != nil {
		t.Fatalf("second app: %v", err)
	}
	waitStats(t, tr, "the second app parked", func(st udp.Stats) bool { return st.Parked == 4 })

	held := vkCallActor9(cl, addr, fn(tagEcho, 9, 9, 9, 9))
	before := tr.Stats().IdleOffers
	waitStats(t, tr, "idle offers while the request is held", func(st udp.Stats) bool { return st.IdleOffers >= before+3 })
	if st := tr.Stats(); st.Parked != 4 || st.Conns != 1 {
		t.Fatalf("a connection with a request in flight was parked: %+v", st)
	}
	close(release)
	if err := recv(t, held, "the held answer"); err != nil {
		t.Fatalf("held call: %v", err)
	}
	st := waitStats(t, tr, "the connection parked after its answer", func(st udp.Stats) bool { return st.Parked == 5 })
	if st.Revived != 3 || st.Accepted != 2 || st.Resets != 0 || st.Dropped[udp.DropUnknownHash] != 0 {
		t.Fatalf("%+v", st)
	}
	t.Logf("answers resent: %d chunks, datagrams out %d", st.ChunksResent, st.DatagramsOut)
}

// TestInteropVKClientUDPEvicted: over MaxDormant the record parked
// longest ago is forgotten. That app's next call is answered with
// obsoleteHash, so VK's client fails it (the request may have had an
// effect, it cannot know) and connects afresh for the call after.
func TestInteropVKClientUDPEvicted(t *testing.T) {
	if raceEnabled {
		t.Skip("VK's UDP transport races internally; run without -race (make test does)")
	}
	leakCheck(t)
	_, tr, addr, _ := startUDPServerWith(t, Config{Handler: SyncFunc(func(r *Request, dst []byte) ([]byte, error) {
		return append(dst, r.Body...), nil
	})}, udp.Config{IdleAfter: 20 * time.Millisecond, MaxDormant: 1})
	first, second := vkUDPClient(t), vkUDPClient(t)
	for i, cl := range []vk.Client{first, second} {
		if err := vkEcho(t, cl, addr, byte(i)); err != nil {
			t.Fatalf("app %d: %v", i, err)
		}
		waitStats(t, tr, "the app parked", func(st udp.Stats) bool { return st.Parked == uint64(i+1) })
	}
	if st := tr.Stats(); st.Evicted != 1 || st.Dormant != 1 {
		t.Fatalf("%+v", st)
	}
	if err := vkEcho(t, first, addr, 7); !errors.Is(err, vk.ErrClientConnClosedSideEffect) {
		t.Fatalf("evicted app's call: %v, want %v", err, vk.ErrClientConnClosedSideEffect)
	}
	if err := vkEcho(t, first, addr, 8); err != nil {
		t.Fatalf("evicted app's next call: %v", err)
	}
	if err := vkEcho(t, second, addr, 9); err != nil {
		t.Fatalf("the app on record: %v", err)
	}
	if st := tr.Stats(); st.Revived != 1 || st.Accepted != 3 {
		t.Fatalf("%+v", st)
	}
}

// TestInteropVKClientUDPRefused: VK's UDP client over MaxConns has its
// call answered with TOO_MANY_REQUESTS at once, not left to its timeout,
// and its connection is parked once it acked that. When the admitted app
// is parked in turn, the refused app's next call is admitted, with
// nothing for VK's client to notice.
func TestInteropVKClientUDPRefused(t *testing.T) {
	if raceEnabled {
		t.Skip("VK's UDP transport races internally; run without -race (make test does)")
	}
	leakCheck(t)
	s, tr, addr, held := startRefusing(t)
	first, second := vkUDPClient(t), vkUDPClient(t)
	errc := vkCallActor9(first, addr, fn(tagEcho))
	r := recv(t, held, "the first app's request")

	err := vkEcho(t, second, addr, 1)
	var ve *vk.Error
	if !errors.As(err, &ve) || ve.Code != rpc.CodeTooManyRequests || !strings.Contains(ve.Description, "cap of 1 connections") {
		t.Fatalf("a second app over MaxConns 1: %v, want TOO_MANY_REQUESTS naming the cap", err)
	}
	if c := s.Counters(); c.ConnsRejected != 1 || c.ConnsActive != 1 {
		t.Fatalf("counters %+v: want 1 rejected, 1 active", c)
	}
	waitStats(t, tr, "the refused connection parked", func(st udp.Stats) bool { return st.Parked == 1 })
	r.Reply(r.Body)
	if err := recv(t, errc, "the first app's answer"); err != nil {
		t.Fatalf("held call: %v", err)
	}
	waitStats(t, tr, "the first app parked", func(st udp.Stats) bool { return st.Parked == 2 })
	if err := vkEcho(t, second, addr, 2); err != nil {
		t.Fatalf("second app's call after the first parked: %v", err)
	}
	if st := tr.Stats(); st.Revived != 1 || st.Resets != 0 || st.Dropped[udp.DropUnknownHash] != 0 {
		t.Fatalf("the second app was not revived seamlessly: %+v", st)
	}
}
