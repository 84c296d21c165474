package sharding

import (
	"testing"
	"time"
)

// TestPickDoesNotAllocate asserts the hot path's allocation count (a count,
// not a timing) for every mode and key hash.
func TestPickDoesNotAllocate(t *testing.T) {
	key := []byte("user:123456789")
	for _, n := range []int{1, 64} {
		for _, s := range allSpecs(n) {
			t.Run(specName(s), func(t *testing.T) {
				p := mustPicker(t, s)
				if a := testing.AllocsPerRun(100, func() { _, _ = p.Pick(key) }); a != 0 {
					t.Errorf("Pick: %v allocs/op, want 0", a)
				}
				if a := testing.AllocsPerRun(100, func() { _ = p.PickInt(-1234567890123) }); a != 0 {
					t.Errorf("PickInt: %v allocs/op, want 0", a)
				}
				// A key on the caller's stack must stay there.
				if a := testing.AllocsPerRun(100, func() {
					var buf [16]byte
					copy(buf[:], "photo100_500")
					_, _ = p.Pick(buf[:12])
				}); a != 0 {
					t.Errorf("Pick of a stack key: %v allocs/op, want 0", a)
				}
			})
		}
	}
}

func TestBalancerDoesNotAllocate(t *testing.T) {
	for _, p := range Policies() {
		t.Run(string(p), func(t *testing.T) {
			b, err := NewBalancer(p, []int{1, 1, 1, 1}, BalancerOptions{})
			if err != nil {
				t.Fatal(err)
			}
			b.SetDown(2, true) // exercise the slow paths too
			if a := testing.AllocsPerRun(100, func() {
				r, _ := b.Pick()
				b.Start(r)
				b.Finish(r, time.Millisecond, false)
			}); a != 0 {
				t.Errorf("Pick/Start/Finish: %v allocs/op, want 0", a)
			}
		})
	}
}
