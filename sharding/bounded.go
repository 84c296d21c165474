package sharding

import (
	"fmt"

	"github.com/buraksezer/consistent"
	"github.com/cespare/xxhash/v2"
)

// boundedMember is a shard name as the library's ring member.
type boundedMember string

func (m boundedMember) String() string { return string(m) }

// boundedHasher is the library's Hasher: XXH64, seed 0. Pick hashes keys with
// the same function, so partition ids agree with the library's.
type boundedHasher struct{}

func (boundedHasher) Sum64(b []byte) uint64 { return xxhash.Sum64(b) }

// buildBounded builds the library's ring once and copies its partition
// owners into a table indexed by partition id. The library finds a key's
// partition as Sum64(key) % PartitionCount (FindPartitionID), so Pick
// recomputing that and reading the table gives LocateKey's answer without
// its RWMutex and map lookups.
func buildBounded(shards []Shard, partitions int, load float64) (parts []int32, err error) {
	members := make([]consistent.Member, len(shards))
	index := make(map[string]int32, len(shards))
	for i, sh := range shards {
		members[i] = boundedMember(sh.Name)
		index[sh.Name] = int32(i)
	}
	// The library panics when partitions do not fit under the load cap;
	// validation rules that out, and this turns a surprise into an error.
	defer func() {
		if r := recover(); r != nil {
			parts, err = nil, fmt.Errorf("%w: bounded: library: %v", ErrInvalidSpec, r)
		}
	}()
	c := newBoundedRing(members, partitions, load)
	parts = make([]int32, partitions)
	for id := range parts {
		owner := c.GetPartitionOwner(id)
		if owner == nil {
			return nil, fmt.Errorf("%w: bounded: partition %d has no owner", ErrInvalidSpec, id)
		}
		parts[id] = index[owner.String()]
	}
	return parts, nil
}

// newBoundedRing is the library ring for the given members, shared with the
// test that compares Pick with LocateKey.
func newBoundedRing(members []consistent.Member, partitions int, load float64) *consistent.Consistent {
	return consistent.New(members, consistent.Config{
		Hasher:            boundedHasher{},
		PartitionCount:    partitions,
		ReplicationFactor: boundedReplication,
		Load:              load,
	})
}
