module github.com/rpcproxy/rpcproxy

go 1.26

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/VKCOM/tl v1.5.7
	github.com/buraksezer/consistent v1.0.0
	github.com/cespare/xxhash/v2 v2.3.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/dchest/siphash v1.2.3 // indirect
	github.com/dgryski/go-maglev v0.0.0-20200611225407-8961b9b1b8e6 // indirect
	github.com/go-faster/xor v0.3.0 // indirect
	github.com/google/btree v1.1.3 // indirect
	github.com/gotd/ige v0.2.2 // indirect
	github.com/josharian/intern v1.0.0 // indirect
	github.com/mailru/easyjson v0.7.8-0.20240109111231-141f9c7d7ffe // indirect
	golang.org/x/crypto v0.0.0-20210513164829-c07d793c2f9a // indirect
	golang.org/x/exp v0.0.0-20240604190554-fc45aab8b7f8 // indirect
	golang.org/x/sys v0.30.0 // indirect
	pgregory.net/rand v1.0.2 // indirect
)
