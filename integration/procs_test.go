package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/rpcproxy"
)

// startWait bounds every wait for a process to become ready.
const startWait = 15 * time.Second

// logBuffer is an io.Writer safe for the exec copy goroutine and readers.
type logBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	line chan string // receives the first complete line, once
	sent bool
}

func newLogBuffer() *logBuffer { return &logBuffer{line: make(chan string, 1)} }

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if !b.sent {
		if s, _, ok := strings.Cut(b.buf.String(), "\n"); ok {
			b.sent = true
			b.line <- s
		}
	}
	return len(p), nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is a process started by a test.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdout *logBuffer
	stderr *logBuffer
	done   chan struct{} // closed when the process has exited
}

// startProc starts bin and makes sure it is killed when the test ends.
func startProc(t *testing.T, name, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(bin, args...), stdout: newLogBuffer(), stderr: newLogBuffer(), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill(t)
		if t.Failed() {
			t.Logf("%s log:\n%s", p.name, tail(p.stderr.String(), 40))
		}
	})
	return p
}

// kill sends SIGKILL (after SIGCONT, so a stopped process dies too) and
// waits for the exit, bounded.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	p.signal(syscall.SIGCONT)
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
	case <-time.After(startWait):
		t.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

func (p *proc) signal(sig syscall.Signal) { _ = p.cmd.Process.Signal(sig) }

// stop sends SIGSTOP and waits until the kernel reports every thread of
// the process stopped (/proc/PID/task/*/stat state T): the signal is
// delivered asynchronously, and a request sent before then may be served.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.signal(syscall.SIGSTOP)
	dir := fmt.Sprintf("/proc/%d/task", p.cmd.Process.Pid)
	waitFor(t, p.name+" to stop", func() bool {
		tasks, err := os.ReadDir(dir)
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		for _, task := range tasks {
			b, err := os.ReadFile(filepath.Join(dir, task.Name(), "stat"))
			if err != nil {
				return false // a thread that just exited
			}
			// The state follows the command name in parentheses.
			i := bytes.LastIndexByte(b, ')')
			if i < 0 || i+2 >= len(b) || (b[i+2] != 'T' && b[i+2] != 't') {
				return false
			}
		}
		return true
	})
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// engine is a running engine process.
type engine struct {
	*proc
	addr string
}

// startEngine runs `engine -kind KIND -listen LISTEN` and waits for the
// bound address it prints on stdout.
func startEngine(t *testing.T, kind, listen string, args ...string) *engine {
	t.Helper()
	p := startProc(t, kind+"@"+listen, bins.engine, append([]string{"-kind", kind, "-listen", listen, "-shutdown-timeout", "1s"}, args...)...)
	select {
	case addr := <-p.stdout.line:
		p.name = kind + "@" + addr
		return &engine{proc: p, addr: strings.TrimSpace(addr)}
	case <-p.done:
		t.Fatalf("engine %s exited at start:\n%s", listen, p.stderr.String())
	case <-time.After(startWait):
		t.Fatalf("engine %s printed no address within %v:\n%s", listen, startWait, p.stderr.String())
	}
	return nil
}

func startEngines(t *testing.T, kind string, n int) []*engine {
	t.Helper()
	es := make([]*engine, n)
	for i := range es {
		es[i] = startEngine(t, kind, "127.0.0.1:0")
	}
	return es
}

// proxy is a running rpcproxy serve process.
type proxy struct {
	*proc
	addr, admin, config string
}

// startProxy runs `rpcproxy serve -config FILE -watch 0` (reloads only on
// SIGHUP) and waits for /healthz.
func startProxy(t *testing.T, c config) *proxy {
	t.Helper()
	file := filepath.Join(t.TempDir(), "proxy.toml")
	writeConfig(t, file, c)
	p := &proxy{addr: c.listen, admin: c.admin, config: file}
	p.proc = startProc(t, "rpcproxy", bins.proxy, "serve", "-config", file, "-watch", "0")
	waitFor(t, "the proxy's /healthz", func() bool {
		if p.exited() {
			t.Fatalf("rpcproxy exited at start:\n%s", p.stderr.String())
		}
		return p.healthy()
	})
	// The proxy dials engines after it starts listening; until a
	// connection is up, that engine's requests fail fast.
	waitFor(t, "the proxy to connect to every engine", func() bool {
		for _, c := range p.stats(t).Clusters {
			for _, s := range c.Shards {
				for _, e := range s.Engines {
					if !e.Connected {
						return false
					}
				}
			}
		}
		return true
	})
	return p
}

var httpClient = &http.Client{Timeout: 2 * time.Second}

func (p *proxy) healthy() bool {
	resp, err := httpClient.Get("http://" + p.admin + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// stats reads the admin /stats document.
func (p *proxy) stats(t *testing.T) rpcproxy.Stats {
	t.Helper()
	resp, err := httpClient.Get("http://" + p.admin + "/stats")
	if err != nil {
		t.Fatalf("GET /stats: %v", err)
	}
	defer resp.Body.Close()
	var st rpcproxy.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("GET /stats: %v", err)
	}
	return st
}

// slow reads the admin /slow list, newest first.
func (p *proxy) slow(t *testing.T) []rpcproxy.SlowRequest {
	t.Helper()
	resp, err := httpClient.Get("http://" + p.admin + "/slow")
	if err != nil {
		t.Fatalf("GET /slow: %v", err)
	}
	defer resp.Body.Close()
	var page struct {
		Requests []rpcproxy.SlowRequest `json:"requests"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatalf("GET /slow: %v", err)
	}
	return page.Requests
}

// reload writes c over the proxy's config file and sends SIGHUP.
func (p *proxy) reload(t *testing.T, c config) {
	t.Helper()
	writeConfig(t, p.config, c)
	p.signal(syscall.SIGHUP)
}

// waitFor polls cond (an external process's state) with a short backoff
// until it holds, failing the test after startWait.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(startWait)
	backoff := 5 * time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", startWait, what)
		}
		<-time.After(backoff)
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

// freeAddr returns a loopback address whose port is free for TCP and UDP
// (the proxy listens on both) at the time of the call.
func freeAddr(t *testing.T) string {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		pc, err := net.ListenPacket("udp", addr)
		ln.Close()
		if err == nil {
			pc.Close()
			return addr
		}
	}
	t.Fatal("no port free for both TCP and UDP")
	return ""
}

// cluster is one [[cluster]] of a test config; extra is raw TOML appended
// after the cluster's keys (health, functions tables).
type cluster struct {
	name      string
	actor     int
	listen    string
	functions []string
	engines   []*engine
	timeout   string
	transport string // "" means the default (tcp)
	// replicas is the engines per shard (0 means 1): shard i is
	// engines[i*replicas : (i+1)*replicas].
	replicas int
	extra    string
}

// config is a proxy config; listen and admin come from freeAddr.
type config struct {
	listen, admin string
	schemas       []string
	clusters      []cluster
	keyFile       string // [proxy] key_file; "" means none
	pprof         bool   // [proxy] pprof (the goroutine count for leak checks)
	udpIdle       string // [proxy] udp_idle_after; "" means the default
	raw           string // appended verbatim (bad-config tests)
}

func newConfig(t *testing.T, clusters ...cluster) config {
	t.Helper()
	return config{listen: freeAddr(t), admin: freeAddr(t), schemas: []string{schemaPath(t, "memcache")}, clusters: clusters}
}

func schemaPath(t *testing.T, kind string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "engines", kind, kind+".tl"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (c config) toml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "[proxy]\nlisten = %q\nadmin = %q\ntimeout = \"1s\"\nschemas = [", c.listen, c.admin)
	for i, s := range c.schemas {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", s)
	}
	b.WriteString("]\n")
	if c.keyFile != "" {
		fmt.Fprintf(&b, "key_file = %q\n", c.keyFile)
	}
	if c.pprof {
		b.WriteString("pprof = true\n")
	}
	if c.udpIdle != "" {
		fmt.Fprintf(&b, "udp_idle_after = %q\n", c.udpIdle)
	}
	b.WriteString("\n[proxy.shutdown]\ndrain_timeout = \"1s\"\n")
	for _, cl := range c.clusters {
		fmt.Fprintf(&b, "\n[[cluster]]\nname = %q\n", cl.name)
		if cl.actor != 0 {
			fmt.Fprintf(&b, "actor_id = %d\n", cl.actor)
		}
		if cl.listen != "" {
			fmt.Fprintf(&b, "listen = %q\n", cl.listen)
		}
		if len(cl.functions) > 0 {
			fmt.Fprintf(&b, "functions = [%q", cl.functions[0])
			for _, f := range cl.functions[1:] {
				fmt.Fprintf(&b, ", %q", f)
			}
			b.WriteString("]\n")
		}
		if cl.timeout != "" {
			fmt.Fprintf(&b, "timeout = %q\n", cl.timeout)
		}
		if cl.transport != "" {
			fmt.Fprintf(&b, "transport = %q\n", cl.transport)
		}
		per := max(cl.replicas, 1)
		if len(cl.engines) > per {
			b.WriteString("sharding = \"ketama\"\nhash = \"md5\"\n")
		}
		b.WriteString("shards = [\n")
		for i := 0; i < len(cl.engines); i += per {
			b.WriteString("  { replicas = [")
			for j, e := range cl.engines[i:min(i+per, len(cl.engines))] {
				if j > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "%q", e.addr)
			}
			b.WriteString("] },\n")
		}
		b.WriteString("]\n")
		b.WriteString(cl.extra)
	}
	b.WriteString(c.raw)
	return b.String()
}

// writeConfig writes c to file atomically (rename), so a reload never
// reads half a file.
func writeConfig(t *testing.T, file string, c config) {
	t.Helper()
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, []byte(c.toml()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
}

// shardOf asks `rpcproxy route` which shard of cluster the key goes to
// (the proxy's own placement code, run as the admin tool).
func (p *proxy) shardOf(t *testing.T, cluster, key string, intKey bool) int {
	t.Helper()
	args := []string{"route", "-config", p.config, "-cluster", cluster}
	if intKey {
		args = append(args, "-int")
	}
	out, err := exec.Command(bins.proxy, append(args, "--", key)...).CombinedOutput()
	if err != nil {
		t.Fatalf("rpcproxy route %s: %v\n%s", key, err, out)
	}
	f := strings.Split(strings.TrimSpace(string(out)), "\t")
	var idx int
	if len(f) < 2 {
		t.Fatalf("rpcproxy route %s: unexpected output %q", key, out)
	}
	if _, err := fmt.Sscan(f[1], &idx); err != nil {
		t.Fatalf("rpcproxy route %s: %q: %v", key, out, err)
	}
	return idx
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
