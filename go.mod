module github.com/rpcproxy/rpcproxy

go 1.26

require (
	github.com/BurntSushi/toml v1.6.0 // indirect
	github.com/VKCOM/tl v1.5.7 // indirect
	github.com/buraksezer/consistent v1.0.0 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	go.uber.org/goleak v1.3.0 // indirect
)
