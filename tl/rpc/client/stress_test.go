package client

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// countHandler counts deliveries per token.
type countHandler struct {
	n    []atomic.Int32
	left atomic.Int64
	done chan struct{}
}

func (h *countHandler) Done(token uint64, resp *Response, err error) {
	if err == nil && (resp == nil || len(resp.Body) < 4) {
		panic("answer without body")
	}
	if h.n[token].Add(1) == 1 && h.left.Add(-1) == 0 {
		close(h.done)
	}
}

// TestStress races answers, error answers, deadlines, cancels, Do context
// cancellation and connection drops against each other: every call must
// be delivered exactly once and nothing may stay in flight.
func TestStress(t *testing.T) {
	var seq atomic.Int64
	srv := newTestServer(t, func(r *srvReq) bool {
		switch seq.Add(1) % 4 {
		case 0:
			return false // never answered: deadline, cancel or drop ends it
		case 1:
			r.answerError(rpc.CodeQueryTimeout, "busy")
		default:
			r.answer(nil)
		}
		return true
	})
	cl := clientOf(t, srv, Options{Conns: 2, MinReconnectDelay: time.Millisecond, MaxReconnectDelay: 5 * time.Millisecond})

	const n = 3000
	h := &countHandler{n: make([]atomic.Int32, n), done: make(chan struct{})}
	h.left.Store(n)
	rng := rand.New(rand.NewPCG(3, 4))
	var wg sync.WaitGroup
	var doErrs atomic.Int64
	for i := range n {
		switch i % 10 {
		case 7: // a Do whose context is canceled at a random moment
			wg.Add(1)
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(1+rng.IntN(20))*time.Millisecond)
			go func(i int) {
				defer wg.Done()
				defer cancel()
				var resp Response
				if err := cl.Do(ctx, echoReq(nil), &resp); err != nil {
					doErrs.Add(1)
				}
				h.Done(uint64(i), &Response{Body: []byte{1, 2, 3, 4}}, nil)
			}(i)
			if rng.IntN(2) == 0 {
				cancel()
			}
			continue
		case 3:
			if i%300 == 3 {
				srv.dropConns()
			}
		}
		qid, err := cl.Go(echoReq(nil), time.Now().Add(time.Duration(1+rng.IntN(30))*time.Millisecond), h, uint64(i))
		if err != nil {
			h.Done(uint64(i), &Response{Body: []byte{1, 2, 3, 4}}, nil) // refused: counts as its one outcome
			continue
		}
		if rng.IntN(8) == 0 {
			cl.Cancel(qid)
		}
	}
	wg.Wait()
	select {
	case <-h.done:
	case <-time.After(wait):
		t.Fatalf("%d calls never completed", h.left.Load())
	}
	for i := range h.n {
		if c := h.n[i].Load(); c != 1 {
			t.Fatalf("token %d delivered %d times", i, c)
		}
	}
	if st := cl.Stats(); st.InFlight != 0 {
		t.Fatalf("in flight %d after all deliveries: %+v", st.InFlight, st)
	}
}
