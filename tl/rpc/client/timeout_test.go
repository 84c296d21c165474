package client

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

func TestRequestTimeout(t *testing.T) {
	now := time.Unix(1700000000, 0)
	set := func(ms int32) rpc.InvokeReqExtra {
		return rpc.InvokeReqExtra{Flags: rpc.FlagCustomTimeoutMs, CustomTimeoutMs: ms}
	}
	cases := []struct {
		name      string
		extra     rpc.InvokeReqExtra
		deadline  time.Duration // from now; 0 = none
		def       time.Duration
		grace     time.Duration
		wantMs    int32
		wantLocal time.Duration // from now; 0 = none
		wantErr   error
	}{
		{"nothing", rpc.InvokeReqExtra{}, 0, 0, 0, 0, 0, nil},
		{"default", rpc.InvokeReqExtra{}, 0, 300 * time.Millisecond, 0, 300, 300 * time.Millisecond, nil},
		{"explicit beats default", set(500), 0, 300 * time.Millisecond, 0, 500, 500 * time.Millisecond, nil},
		{"explicit zero is none", set(0), 0, 300 * time.Millisecond, 0, 0, 0, nil},
		{"deadline", rpc.InvokeReqExtra{}, 5 * time.Second, 0, 0, 5000, 5 * time.Second, nil},
		{"deadline truncated", rpc.InvokeReqExtra{}, 4999*time.Millisecond + 900*time.Microsecond, 0, 0, 4999, 4999*time.Millisecond + 900*time.Microsecond, nil},
		{"deadline below explicit", set(9000), time.Second, 0, 0, 1000, time.Second, nil},
		{"explicit below deadline", set(100), time.Second, 0, 0, 100, 100 * time.Millisecond, nil},
		{"default below deadline", rpc.InvokeReqExtra{}, time.Second, 200 * time.Millisecond, 0, 200, 200 * time.Millisecond, nil},
		{"sub-millisecond is 1", rpc.InvokeReqExtra{}, 10 * time.Microsecond, 0, 0, 1, 10 * time.Microsecond, nil},
		{"huge clamps", rpc.InvokeReqExtra{}, 1000 * time.Hour, 0, 0, math.MaxInt32, 1000 * time.Hour, nil},
		{"passed deadline", rpc.InvokeReqExtra{}, -time.Millisecond, 0, 0, 0, 0, ErrTimeout},
		{"grace after explicit", set(300), 0, 0, 50 * time.Millisecond, 300, 350 * time.Millisecond, nil},
		{"grace after default", rpc.InvokeReqExtra{}, 0, 200 * time.Millisecond, 50 * time.Millisecond, 200, 250 * time.Millisecond, nil},
		{"grace within deadline", set(300), 400 * time.Millisecond, 0, 50 * time.Millisecond, 300, 350 * time.Millisecond, nil},
		{"deadline caps grace", set(300), 330 * time.Millisecond, 0, 50 * time.Millisecond, 300, 330 * time.Millisecond, nil},
		{"no grace for a deadline", rpc.InvokeReqExtra{}, 300 * time.Millisecond, 0, 50 * time.Millisecond, 300, 300 * time.Millisecond, nil},
		{"no grace for none", set(0), 0, 0, 50 * time.Millisecond, 0, 0, nil},
		{"negative explicit", set(-5), 0, 0, 0, 0, 0, ErrBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var dl time.Time
			if tc.deadline != 0 {
				dl = now.Add(tc.deadline)
			}
			ms, local, err := requestTimeout(&tc.extra, dl, tc.def, tc.grace, now)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			var wantLocal time.Time
			if tc.wantLocal != 0 {
				wantLocal = now.Add(tc.wantLocal)
			}
			if ms != tc.wantMs || !local.Equal(wantLocal) {
				t.Fatalf("got %d ms, local %v; want %d ms, local %v", ms, local.Sub(now), tc.wantMs, tc.wantLocal)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	o, err := (&Options{MinReconnectDelay: 200 * time.Millisecond, MaxReconnectDelay: time.Second,
		Jitter: func(d time.Duration) time.Duration { return d }}).withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := o.backoff(i + 1); got != w*time.Millisecond {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
	o.Jitter = nil
	o, _ = o.withDefaults()
	for range 100 {
		if d := o.backoff(3); d < 0 || d > 800*time.Millisecond {
			t.Fatalf("jittered backoff %v outside [0, 800ms]", d)
		}
	}
}

func TestQueryIDs(t *testing.T) {
	cl := newClient(t, "x:1", Options{})
	defer cl.Close()
	cl.qid.Store(math.MaxInt64 - 1)
	got := []int64{cl.nextQID(), cl.nextQID(), cl.nextQID()}
	// MaxInt64, then the wrap skips 0 and negative ids.
	if got[0] != math.MaxInt64 || got[1] <= 0 || got[2] != got[1]+1 {
		t.Fatalf("ids %v", got)
	}
}
