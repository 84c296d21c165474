package route

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/cespare/xxhash/v2"

	"github.com/rpcproxy/rpcproxy/configs"
	"github.com/rpcproxy/rpcproxy/tl/schema"
)

// Shadow is a cluster's [cluster.shadow] in a Table: which requests are
// copied to which cluster.
type Shadow struct {
	To *Cluster
	// below: a key is copied when the top 32 bits of its xxhash are below
	// it (share × 2^32; 2^32 for a share of 1).
	below uint64
	// functions are the patterns of the functions copied; none: every
	// function.
	functions []string
}

// copies reports whether s copies function name.
func (s *Shadow) copies(name string) bool {
	return len(s.functions) == 0 || configs.FunctionsMatch(s.functions, name)
}

// linkShadows sets each cluster's Shadow once every cluster of t exists
// (a shadow may name a cluster that comes after it).
func (t *Table) linkShadows(sch *schema.Schema) error {
	for _, c := range t.Clusters {
		sh := c.Config.Shadow
		if sh == nil {
			continue
		}
		to := t.cluster(sh.Cluster)
		if to == nil || to == c {
			return fmt.Errorf("route: cluster %q: shadow cluster %q is not another cluster of the table", c.Name, sh.Cluster)
		}
		if len(sh.Functions) > 0 && sch == nil {
			return fmt.Errorf("route: cluster %q: shadow.functions needs the functions' schemas (proxy.schemas)", c.Name)
		}
		for _, pat := range sh.Functions {
			if !matchesAny(sch, pat) {
				return fmt.Errorf("route: cluster %q: shadow.functions pattern %q matches no function of the schemas (a typo?)", c.Name, pat)
			}
		}
		c.Shadow = &Shadow{To: to, below: uint64(math.Round(sh.Share * (1 << 32))), functions: sh.Functions}
	}
	return nil
}

// ShadowShard returns the shadow cluster and its shard for a request of
// c's function fn (nil when the schemas lack it) placed by key k, or nil
// when the request is not copied: c has no shadow, the function is not
// among those copied, the request has no key, or the key is outside the
// shadow's share.
func (c *Cluster) ShadowShard(fn *Function, k Key) (*Cluster, int) {
	s := c.Shadow
	if s == nil || k.Kind == KeyNone {
		return nil, 0
	}
	if fn != nil && !fn.Shadowed || fn == nil && len(s.functions) > 0 {
		return nil, 0 // not copied; a function the schemas lack only when all are
	}
	var h uint64
	if k.Kind == KeyInt {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(k.Int))
		h = xxhash.Sum64(b[:])
	} else {
		h = xxhash.Sum64(k.Str)
	}
	if h>>32 >= s.below {
		return nil, 0
	}
	if k.Kind == KeyInt {
		return s.To, s.To.Picker.PickInt(k.Int)
	}
	i, err := s.To.Picker.Pick(k.Str)
	if err != nil {
		return nil, 0
	}
	return s.To, i
}
