package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// report is the final result; its JSON form is the -json output.
type report struct {
	Params       paramsJSON        `json:"params"`
	Interrupted  bool              `json:"interrupted"`
	ElapsedSec   float64           `json:"elapsed_s"`
	Requests     uint64            `json:"requests"` // measured: ok + errors
	OK           uint64            `json:"ok"`
	Errors       uint64            `json:"errors"`
	ErrorsByCode map[string]uint64 `json:"errors_by_code"`
	OpsPerSec    float64           `json:"ops_per_s"`  // successful requests per second
	KeysPerSec   float64           `json:"keys_per_s"` // keys read or written per second (an mget counts its keys)
	Ops          opsJSON           `json:"ops"`
	LatencyUs    latencyJSON       `json:"latency_us"`
	Prefill      *prefillReport    `json:"prefill,omitempty"`
}

type paramsJSON struct {
	params
	DurationS float64 `json:"duration_s"`
	WarmupS   float64 `json:"warmup_s"`
	TimeoutMs float64 `json:"timeout_ms"`
	Mix       string  `json:"mix"`
}

type opsJSON struct {
	Get  opJSON `json:"get"`
	Set  opJSON `json:"set"`
	Mget opJSON `json:"mget"`
}

type opJSON struct {
	OK     uint64 `json:"ok"`
	Hits   uint64 `json:"hits"`   // get: requests that found the key; mget: keys found
	Misses uint64 `json:"misses"` // get: not_found answers; mget: keys not found
	Keys   uint64 `json:"keys"`   // keys asked by successful requests
}

type latencyJSON struct {
	Samples uint64  `json:"samples"`
	Min     float64 `json:"min"`
	Mean    float64 `json:"mean"`
	P50     float64 `json:"p50"`
	P90     float64 `json:"p90"`
	P99     float64 `json:"p99"`
	P999    float64 `json:"p99.9"`
	Max     float64 `json:"max"`
}

type prefillReport struct {
	Keys    int64   `json:"keys"`
	Errors  int64   `json:"errors"`
	Seconds float64 `json:"seconds"`
}

// report gathers the stripes into the final report.
func (b *bench) report(elapsed time.Duration, interrupted bool) *report {
	p := b.p
	r := &report{
		Params: paramsJSON{params: *p, DurationS: p.Duration.Seconds(), WarmupS: p.Warmup.Seconds(),
			TimeoutMs: float64(p.Timeout) / 1e6, Mix: p.Mix.String()},
		Interrupted:  interrupted,
		ElapsedSec:   elapsed.Seconds(),
		ErrorsByCode: map[string]uint64{},
	}
	var h hist
	ops := [nOps]*opJSON{&r.Ops.Get, &r.Ops.Set, &r.Ops.Mget}
	for _, st := range b.stripes {
		st.hist.AddTo(&h)
		for k := range nOps {
			ops[k].OK += st.ok[k].Load()
			ops[k].Hits += st.hits[k].Load()
			ops[k].Misses += st.misses[k].Load()
		}
		ops[opMget].Keys += st.keys.Load()
		r.Errors += st.errs.Load()
		st.mu.Lock()
		for name, n := range st.byCode {
			r.ErrorsByCode[name] += n
		}
		st.mu.Unlock()
	}
	r.Ops.Get.Keys, r.Ops.Set.Keys = r.Ops.Get.OK, r.Ops.Set.OK
	r.OK = r.Ops.Get.OK + r.Ops.Set.OK + r.Ops.Mget.OK
	r.Requests = r.OK + r.Errors
	if s := elapsed.Seconds(); s > 0 {
		r.OpsPerSec = float64(r.OK) / s
		r.KeysPerSec = float64(r.Ops.Get.Keys+r.Ops.Set.Keys+r.Ops.Mget.Keys) / s
	}
	us := func(ns int64) float64 { return float64(ns) / 1e3 }
	r.LatencyUs = latencyJSON{Samples: h.Count(), Min: us(h.Min()), Mean: h.Mean() / 1e3,
		P50: us(h.Quantile(0.5)), P90: us(h.Quantile(0.9)), P99: us(h.Quantile(0.99)),
		P999: us(h.Quantile(0.999)), Max: us(h.Max())}
	return r
}

// write prints the report as text or JSON.
func (r *report) write(w io.Writer, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	p := &r.Params
	var b strings.Builder
	fmt.Fprintf(&b, "rpcbench %s", p.Addr)
	if p.Network != "tcp" {
		fmt.Fprintf(&b, " (%s)", p.Network)
	}
	fmt.Fprintf(&b, "  c=%d d=%d  mix %s mget-keys=%d  keys=%d %s", p.Conns, p.Depth, p.Mix, p.MgetKeys, p.Keys, p.Dist)
	if p.Dist == "zipf" {
		fmt.Fprintf(&b, "(s=%g)", p.ZipfS)
	}
	fmt.Fprintf(&b, " key-prefix=%q value=%dB\n", p.KeyPrefix, p.ValueSize)
	fmt.Fprintf(&b, "  warmup %v  duration %v  n %d  timeout %v  actor %d  prefill %v  driver %s  batch %v  seed %d\n",
		p.Warmup, p.Duration, p.N, p.Timeout, p.Actor, p.Prefill, p.Driver, p.Batch, p.Seed)
	if r.Prefill != nil {
		fmt.Fprintf(&b, "prefill    %d keys set, %d errors, %.2fs\n", r.Prefill.Keys, r.Prefill.Errors, r.Prefill.Seconds)
	}
	if r.Interrupted {
		fmt.Fprintf(&b, "INTERRUPTED: the figures cover the part that ran\n")
	}
	fmt.Fprintf(&b, "requests   %d in %.3fs: %d ok, %d errors\n", r.Requests, r.ElapsedSec, r.OK, r.Errors)
	fmt.Fprintf(&b, "throughput %.0f ops/s, %.0f keys/s\n", r.OpsPerSec, r.KeysPerSec)
	if p.Rate > 0 {
		fmt.Fprintf(&b, "pacing     %d requests/s due, %.0f/s answered; a latency counts from when its request was due (or sent, if earlier)\n",
			p.Rate, float64(r.Requests)/max(r.ElapsedSec, 1e-9))
	}
	fmt.Fprintf(&b, "ops        get %d (%d hits, %d misses)  set %d  mget %d (%d keys: %d hits, %d misses)\n",
		r.Ops.Get.OK, r.Ops.Get.Hits, r.Ops.Get.Misses, r.Ops.Set.OK,
		r.Ops.Mget.OK, r.Ops.Mget.Keys, r.Ops.Mget.Hits, r.Ops.Mget.Misses)
	if len(r.ErrorsByCode) > 0 {
		fmt.Fprintf(&b, "errors    ")
		for _, name := range slices.Sorted(maps.Keys(r.ErrorsByCode)) {
			fmt.Fprintf(&b, " %s %d", name, r.ErrorsByCode[name])
		}
		b.WriteByte('\n')
	}
	l := &r.LatencyUs
	fmt.Fprintf(&b, "latency µs p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  (min %.1f, mean %.1f, %d samples)\n",
		l.P50, l.P90, l.P99, l.P999, l.Max, l.Min, l.Mean, l.Samples)
	_, err := io.WriteString(w, b.String())
	return err
}
