package rpcproxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/rpcproxy/rpcproxy/configs"
	"github.com/rpcproxy/rpcproxy/rpcproxy/route"
)

// Reload re-reads Options.ConfigPath and applies it. A config that does not
// load is refused, its problems logged, and the running one kept.
func (p *Proxy) Reload() error {
	if p.opts.ConfigPath == "" {
		return errors.New("rpcproxy: reload: no config file (Options.ConfigPath)")
	}
	// Hashed before it is loaded: a write in between shows as a change
	// at the watcher's next poll, which reloads again.
	p.noteRead()
	cfg, err := configs.Load(p.opts.ConfigPath)
	if err != nil {
		p.refused(err)
		return err
	}
	return p.Apply(cfg)
}

func (p *Proxy) refused(err error) {
	p.reloadErrors.Add(1)
	p.reloadState.refused(p.now(), err)
	var ce *configs.Error
	if errors.As(err, &ce) {
		for _, pr := range ce.Problems {
			p.log.Error("config reload refused", "problem", pr.String())
		}
		return
	}
	p.log.Error("config reload refused; the running config is kept", "error", err.Error())
}

// reloadState is what the admin pages say of reloads: when the running
// config was applied, and how the last reload ended, so an operator sees
// at once whether an edit took effect and, if not, why.
type reloadState struct {
	mu       sync.Mutex
	loadedAt time.Time // the running config was applied (at start or by a reload)
	lastAt   time.Time // the last reload ended (zero: none yet)
	lastErr  error     // why it was refused; nil: applied
}

// reloadStatus is a snapshot of reloadState.
type reloadStatus struct {
	loadedAt time.Time
	lastAt   time.Time // zero: no reload yet
	lastErr  error     // nil: the last reload (if any) was applied
}

func (s *reloadState) applied(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loadedAt.IsZero() {
		s.lastAt, s.lastErr = now, nil
	}
	s.loadedAt = now
}

func (s *reloadState) refused(now time.Time, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastAt, s.lastErr = now, err
}

func (s *reloadState) status() reloadStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return reloadStatus{loadedAt: s.loadedAt, lastAt: s.lastAt, lastErr: s.lastErr}
}

// Apply swaps in cfg (validated by configs): the new table is built
// completely (schemas, pickers, engines, new listeners) before one atomic
// swap; requests in flight finish on the old table, whose engines are
// released when its last request ends (engines that stay keep their
// connections). Removed listeners are shut down gracefully. On error
// nothing changes.
func (p *Proxy) Apply(cfg *configs.Config) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.stopped:
		return ErrStopped
	default:
	}
	if err := p.checkUDP(cfg); err != nil {
		p.refused(err)
		return err
	}
	if err := appLimits(cfg).Check(); err != nil {
		err = fmt.Errorf("rpcproxy: %w", err)
		p.refused(err)
		return err
	}
	sch, err := loadSchema(cfg)
	if err != nil {
		p.refused(err)
		return err
	}
	tab, err := route.Build(cfg, sch, p.engineSource(cfg), p.stats)
	if err != nil {
		p.refused(err)
		return err
	}
	want := listenAddrs(cfg)
	var opened []*listener
	for _, a := range want {
		if p.listeners[a] != nil {
			continue
		}
		l, err := p.openListener(cfg, a)
		if err != nil {
			for _, l := range opened {
				delete(p.listeners, l.addr)
				_ = l.srv.Close()
				l.closeSockets()
			}
			p.showListeners()
			tab.Release()
			p.refused(err)
			return err
		}
		opened = append(opened, l)
	}
	// New engines get their first dial before any request can reach them.
	p.waitEngines(tab)
	old := p.cfg.Load()
	tab.Start(p.now(), p.Table())
	_ = p.limits.Set(appLimits(cfg)) // valid: checked above
	p.gen.Swap(newGeneration(tab)).retire()
	p.cfg.Store(cfg)
	p.reloadState.applied(p.now())
	var closed []string
	for a, l := range p.listeners {
		if slices.Contains(want, a) {
			continue
		}
		delete(p.listeners, a)
		closed = append(closed, a.String())
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), cfg.Proxy.DrainTimeout)
			defer cancel()
			_ = l.srv.Shutdown(ctx)
			l.closeSockets()
		}()
	}
	if len(closed) > 0 {
		p.showListeners()
	}
	p.reloads.Add(1)
	attrs := diffClusters(old, cfg)
	var openedNames []string
	for _, l := range opened {
		openedNames = append(openedNames, l.addr.String())
	}
	attrs = append(attrs, "listeners_opened", openedNames, "listeners_closed", closed, "config_sha256", hex.EncodeToString(cfg.SHA256[:]))
	if a, b := appLimits(old), appLimits(cfg); a != b {
		attrs = append(attrs, "app_limits", fmt.Sprintf("max_connections %d, max_request_bytes_in_flight %d, max_response_bytes_in_flight %d, now; max_request_size %d for app connections made from now on",
			b.MaxConns, b.MaxRequestBytes, b.MaxHeldBytes, cfg.Proxy.MaxRequestSize))
	}
	if old.Proxy.Admin != cfg.Proxy.Admin || old.Proxy.Pprof != cfg.Proxy.Pprof {
		attrs = append(attrs, "note", "proxy.admin or proxy.pprof changed: takes effect on restart")
	}
	if old.Proxy.KeyFile != cfg.Proxy.KeyFile || old.Proxy.UDP != cfg.Proxy.UDP || old.Proxy.UDPIdleAfter != cfg.Proxy.UDPIdleAfter {
		attrs = append(attrs, "note_udp", "proxy.key_file, proxy.udp or proxy.udp_idle_after changed: takes effect on restart")
	}
	p.log.Info("config reloaded", attrs...)
	return nil
}

// diffClusters names the clusters added, removed and changed.
func diffClusters(old, cur *configs.Config) []any {
	var added, removed, changed []string
	for i := range cur.Clusters {
		c := &cur.Clusters[i]
		o, ok := old.Cluster(c.Name)
		switch {
		case !ok:
			added = append(added, c.Name)
		case fmt.Sprint(*o) != fmt.Sprint(*c):
			changed = append(changed, c.Name)
		}
	}
	for i := range old.Clusters {
		if _, ok := cur.Cluster(old.Clusters[i].Name); !ok {
			removed = append(removed, old.Clusters[i].Name)
		}
	}
	return []any{"clusters_added", added, "clusters_removed", removed, "clusters_changed", changed}
}

// watch polls the config file every WatchInterval (poll).
func (p *Proxy) watch() {
	defer p.wg.Done()
	t := time.NewTicker(p.opts.WatchInterval)
	defer t.Stop()
	for {
		select {
		case <-p.stopped:
			return
		case <-t.C:
		}
		p.poll()
	}
}

// poll reloads the config file when its content is not what was read
// last. A content hash, not mtime alone, decides: editors that keep the
// mtime, or two writes within its resolution, are still seen; a rewrite
// with the same bytes is not a reload, and neither is an edit a SIGHUP
// reload has read already (or refused: the same bad bytes are not
// retried).
func (p *Proxy) poll() {
	sum, err := fileSum(p.opts.ConfigPath)
	if last := p.readSum.Load(); err != nil || last != nil && bytes.Equal(sum, *last) {
		return
	}
	p.log.Info("config file changed", "file", p.opts.ConfigPath)
	_ = p.Reload()
}

// noteRead records the config file's content hash as read (readSum); an
// unreadable file records nothing.
func (p *Proxy) noteRead() {
	if sum, err := fileSum(p.opts.ConfigPath); err == nil {
		p.readSum.Store(&sum)
	}
}

func fileSum(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := sha256.Sum256(data)
	return s[:], nil
}
