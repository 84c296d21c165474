package rpcproxy

import (
	"fmt"

	"github.com/rpcproxy/rpcproxy/configs"
	"github.com/rpcproxy/rpcproxy/rpcproxy/health"
	"github.com/rpcproxy/rpcproxy/rpcproxy/metrics"
	"github.com/rpcproxy/rpcproxy/rpcproxy/route"
	"github.com/rpcproxy/rpcproxy/rpcproxy/upstream"
)

// Check makes every check of cfg (loaded by configs) that New makes
// before it opens a socket: it reads the key file, loads the schemas and
// builds the routing table (key rules against the functions' arguments,
// fan-out and merge rules, shadows), with engines that are never dialled.
// A config Check accepts therefore fails New only for the network: a
// port taken, an address not on this host. `rpcproxy check` runs it.
func Check(cfg *configs.Config) error {
	if cfg.Proxy.KeyFile != "" {
		if _, err := configs.ReadKey(cfg.Proxy.KeyFile); err != nil {
			return fmt.Errorf("rpcproxy: %w", err)
		}
	}
	sch, err := loadSchema(cfg)
	if err != nil {
		return err
	}
	tab, err := route.Build(cfg, sch, noEngines{}, metrics.NewRegistry())
	if err != nil {
		return err
	}
	tab.Release()
	return nil
}

// noEngines is Check's engine source: Build gets no engines, so nothing
// is dialled.
type noEngines struct{}

func (noEngines) Acquire(string, health.Settings, *health.Group) *upstream.Engine { return nil }
func (noEngines) Release(*upstream.Engine)                                        {}
