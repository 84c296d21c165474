package metrics

import (
	"fmt"
	"testing"
	"time"
)

func TestHistogram(t *testing.T) {
	c := NewRegistry().Cluster("x")
	for _, d := range []time.Duration{50 * time.Microsecond, 200 * time.Microsecond, 3 * time.Millisecond, 10 * time.Second} {
		c.Observe(d)
	}
	buckets, n, sum := c.Histogram()
	if n != 4 || sum != 50*time.Microsecond+200*time.Microsecond+3*time.Millisecond+10*time.Second {
		t.Fatalf("count %d sum %v", n, sum)
	}
	tests := []struct {
		le   time.Duration
		want uint64
	}{{100 * time.Microsecond, 1}, {250 * time.Microsecond, 2}, {5 * time.Millisecond, 3}, {2500 * time.Millisecond, 3}, {0, 4}}
	for _, tc := range tests {
		for _, b := range buckets {
			if b.Le == tc.le && b.Count != tc.want {
				t.Errorf("le %v: %d, want %d", tc.le, b.Count, tc.want)
			}
		}
	}
	if q := c.Quantile(0.5); q != 250*time.Microsecond {
		t.Errorf("p50 %v", q)
	}
	if q := c.Quantile(0.99); q != 2500*time.Millisecond {
		t.Errorf("p99 %v", q)
	}
}

func TestRegistryKeepsClusters(t *testing.T) {
	r := NewRegistry()
	a := r.Cluster("a")
	a.Requests.Add(3)
	if r.Cluster("a") != a || r.Cluster("a").Requests.Load() != 3 {
		t.Fatal("registry lost counters")
	}
}

func TestObserveDoesNotAllocate(t *testing.T) {
	c := NewRegistry().Cluster("x")
	if n := testing.AllocsPerRun(100, func() {
		c.Observe(time.Millisecond)
		c.Requests.Add(1)
		c.Fanouts.Add(1)
		c.SubSent.Add(1)
		c.SubFailed.Add(1)
		c.Partial.Add(1)
	}); n != 0 {
		t.Fatalf("%v allocs", n)
	}
}

// TestRegistryFunctions: one Function per cluster and name, the same on
// every call; Functions lists those with requests, by cluster then name.
func TestRegistryFunctions(t *testing.T) {
	r := NewRegistry()
	for _, k := range [][2]string{{"b", "x.get"}, {"a", "x.set"}, {"a", "x.get"}, {"a", "x.idle"}} {
		f := r.Function(k[0], k[1])
		if f != r.Function(k[0], k[1]) {
			t.Fatalf("%v: two Functions", k)
		}
		if k[1] != "x.idle" {
			f.Requests.Add(1)
		}
	}
	var got []string
	for _, f := range r.Functions() {
		got = append(got, f.Cluster+"/"+f.Name)
	}
	if fmt.Sprint(got) != "[a/x.get a/x.set b/x.get]" {
		t.Fatalf("Functions: %v", got)
	}
}
