package sharding_test

import (
	"errors"
	"fmt"

	"github.com/rpcproxy/rpcproxy/sharding"
)

// VK's example from sharding.md: photo100_500 on 16 shards.
func ExampleNewPicker() {
	shards := make([]sharding.Shard, 16)
	for _, mode := range []sharding.Mode{sharding.ModeFirstInt, sharding.ModeHash} {
		p, err := sharding.NewPicker(sharding.Spec{Mode: mode, Shards: shards})
		if err != nil {
			fmt.Println(err)
			return
		}
		shard, err := p.Pick([]byte("photo100_500"))
		fmt.Println(mode, shard, err)
	}
	// Output:
	// firstint 4 <nil>
	// hash 8 <nil>
}

func ExamplePicker_Pick_noDigits() {
	p, _ := sharding.NewPicker(sharding.Spec{Mode: sharding.ModeFirstInt, Shards: make([]sharding.Shard, 4)})
	_, err := p.Pick([]byte("photo"))
	fmt.Println(errors.Is(err, sharding.ErrNoDigits), err)
	// Output:
	// true sharding: firstint key has no decimal digits: key "photo"
}

func ExampleNewPicker_ketama() {
	p, _ := sharding.NewPicker(sharding.Spec{Mode: sharding.ModeKetama, Shards: []sharding.Shard{
		{Name: sharding.DefaultShardName("127.0.0.1:6379")},
		{Name: sharding.DefaultShardName("127.0.0.1:6380")},
		{Name: sharding.DefaultShardName("127.0.0.1:6381")},
	}})
	for _, key := range []string{"foo", "bar", "VDEAAAAA"} {
		shard, _ := p.Pick([]byte(key))
		fmt.Println(key, shard)
	}
	// Output:
	// foo 0
	// bar 2
	// VDEAAAAA 0
}

func ExampleNewPicker_invalid() {
	_, err := sharding.NewPicker(sharding.Spec{Mode: sharding.ModeHash, Hash: sharding.HashMD5, Shards: make([]sharding.Shard, 2)})
	fmt.Println(err)
	// Output:
	// sharding: invalid spec: hash: unknown key hash "md5" (allowed: crc32, xxhash)
}
