package client

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
	"github.com/rpcproxy/rpcproxy/tl/rpc/server"
)

// silentTag is the function tag timedServer holds without answering.
var silentTag = []byte{0x0f, 0xf0, 0xad, 0x0b}

// timedServer answers QUERY_TIMEOUT at each request's deadline (arrival
// plus custom_timeout_ms), as a proxy does for a slow engine, except for
// silentTag calls, which go to held unanswered.
func timedServer(t *testing.T, held chan<- *server.Request) *ourServer {
	t.Helper()
	return startOurServer(t, func(r *server.Request) {
		if tag, _ := r.FunctionTag(); tag == 0x0badf00f {
			held <- r
			return
		}
		d, ok := r.Deadline()
		if !ok {
			r.ReplyError(rpc.CodeInternal, "no deadline")
			return
		}
		time.AfterFunc(time.Until(d), func() { r.ReplyError(rpc.CodeQueryTimeout, "engine 10.0.0.7:2442 is slow") })
	})
}

// TestTimeoutGrace: with TimeoutGrace the peer's own QUERY_TIMEOUT, sent
// at custom_timeout_ms, reaches the caller; a silent peer still fails the
// call with ErrTimeout, no earlier than timeout plus grace and no later
// than the caller's deadline.
func TestTimeoutGrace(t *testing.T) {
	defer verifyNoLeaks(t)
	held := make(chan *server.Request, 8)
	srv := timedServer(t, held)
	defer srv.close()

	const timeout = 100 * time.Millisecond
	cases := []struct {
		name     string
		grace    time.Duration
		silent   bool
		ctx      time.Duration // Do's context; 0 = wait
		goStyle  bool          // Go with the ctx as deadline instead of Do
		wantCode int32         // an *rpc.Error with this code; 0 = ErrTimeout
		atLeast  time.Duration // the local timeout fires no earlier
	}{
		{name: "peer answers within the grace", grace: wait, wantCode: rpc.CodeQueryTimeout},
		{name: "Go: peer answers within the grace", grace: wait, goStyle: true, wantCode: rpc.CodeQueryTimeout},
		{name: "silent peer times out after the grace", grace: 100 * time.Millisecond, silent: true, atLeast: timeout + 100*time.Millisecond},
		{name: "Go: silent peer", grace: 100 * time.Millisecond, silent: true, goStyle: true, atLeast: timeout + 100*time.Millisecond},
		{name: "deadline caps the grace", grace: wait, silent: true, ctx: 150 * time.Millisecond, atLeast: 150 * time.Millisecond},
		{name: "no grace", silent: true, atLeast: timeout},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cl := newClient(t, srv.ln.Addr().String(), Options{TimeoutGrace: tc.grace})
			defer cl.Close()
			req := echoReq(nil)
			if tc.silent {
				req.Body = silentTag
			}
			req.Extra.SetCustomTimeoutMs(int32(timeout / time.Millisecond))
			limit := wait
			if tc.ctx != 0 {
				limit = tc.ctx
			}
			ctx, cancel := context.WithTimeout(context.Background(), limit)
			defer cancel()
			start := time.Now()
			var err error
			if tc.goStyle {
				h := make(chanHandler, 1)
				dl, _ := ctx.Deadline()
				if _, err = cl.Go(req, dl, h, 1); err != nil {
					t.Fatal(err)
				}
				err = recvResult(t, h).err
			} else {
				err = cl.Do(ctx, req, nil)
			}
			elapsed := time.Since(start)
			if tc.wantCode != 0 {
				var re *rpc.Error
				if !errors.As(err, &re) || re.Code != tc.wantCode || re.Description != "engine 10.0.0.7:2442 is slow" {
					t.Fatalf("err %v, want the peer's %d", err, tc.wantCode)
				}
				return
			}
			select {
			case r := <-held:
				r.ReplyError(rpc.CodeQueryTimeout, "too late")
			case <-time.After(wait):
				t.Fatal("the request never reached the server")
			}
			if !errors.Is(err, ErrTimeout) {
				t.Fatalf("err %v, want ErrTimeout", err)
			}
			if elapsed < tc.atLeast || elapsed >= wait {
				t.Fatalf("timed out after %v, want in [%v, %v)", elapsed, tc.atLeast, wait)
			}
		})
	}
}

func TestTimeoutGraceOption(t *testing.T) {
	if _, err := New("127.0.0.1:1", Options{TimeoutGrace: -time.Millisecond}); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("negative TimeoutGrace: err %v, want ErrBadOptions", err)
	}
}
