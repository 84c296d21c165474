package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCmd runs the command in-process and returns its exit code and output.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// writeConfig writes a config into a temporary directory, beside redisTL
// as redis.tl, and returns its path.
func writeConfig(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "redis.tl"), []byte(redisTL), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rpcproxy.toml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// redisTL is the schema of ketamaExample's functions: a functions pattern
// must match a function of the schemas.
const redisTL = `---functions---
redis.get key:string = Maybe string;
`

// ketamaExample is sharding.md's worked example: three shards named by
// their only replica, ketama with md5.
const ketamaExample = `
[proxy]
schemas = ["redis.tl"]

[[cluster]]
name = "redis"
functions = ["redis.*"]
sharding = "ketama"
hash = "md5"
shards = [
  { replicas = ["127.0.0.1:6379"] },
  { replicas = ["127.0.0.1:6380", "127.0.0.2:6380"] },
  { replicas = ["127.0.0.1:6381"] },
]

[[cluster]]
name = "users"
actor_id = 7
sharding = "firstint"
shards = [
  { replicas = ["127.0.0.1:7000"] },
  { replicas = ["127.0.0.1:7001"] },
  { replicas = ["127.0.0.1:7002"] },
  { replicas = ["127.0.0.1:7003"] },
]
`

const brokenConfig = `[proxy]
listen = "localhost:9300"
[[cluster]]
name = "a"
functions = ["a.*"]
sharding = "ketma"
shards = [{ replicas = ["127.0.0.1:1"] }, { replicas = [] }]
`

func TestRun(t *testing.T) {
	good := writeConfig(t, ketamaExample)
	broken := writeConfig(t, brokenConfig)
	keyed := writeConfig(t, strings.Replace(ketamaExample, "[proxy]\n", "[proxy]\nkey_file = \"key\"\npprof = true\n", 1))
	noKey := writeConfig(t, strings.Replace(ketamaExample, "[proxy]\n", "[proxy]\nkey_file = \"secrets/none.key\"\n", 1))
	noSchema := writeConfig(t, strings.Replace(ketamaExample, `"redis.tl"`, `"redis.tl", "memcache.tl"`, 1))
	memcacheTL, err := filepath.Abs("../../engines/memcache/memcache.tl")
	if err != nil {
		t.Fatal(err)
	}
	badRule := writeConfig(t, strings.Replace(ketamaExample, `"redis.tl"`, `"redis.tl", "`+memcacheTL+`"`, 1)+
		"[[cluster.function]]\nname = \"memcache.getMulti\"\nkey = \"kees\"\n")
	if err := os.WriteFile(filepath.Join(filepath.Dir(keyed), "key"), []byte("0123456789abcdef0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name         string
		args         []string
		expectedCode int
		stdout       []string // substrings, in order
		stderr       []string // substrings, in order
		stdoutEmpty  bool
		stderrEmpty  bool
	}{
		{
			name:         "no arguments prints usage",
			args:         nil,
			expectedCode: 2,
			stderr:       []string{"Usage:", "check", "route", "Example:"},
			stdoutEmpty:  true,
		},
		{
			name:         "-h prints usage to stdout",
			args:         []string{"-h"},
			expectedCode: 0,
			stdout:       []string{"Commands:", "check", "validate a config", "route", "rpcproxy check -config configs/demo.toml"},
			stderrEmpty:  true,
		},
		{
			name:         "help",
			args:         []string{"help"},
			expectedCode: 0,
			stdout:       []string{"Commands:"},
		},
		{
			name:         "help check",
			args:         []string{"help", "check"},
			expectedCode: 0,
			stdout:       []string{"Usage: rpcproxy check -config FILE", "Example:", "-config file"},
			stderrEmpty:  true,
		},
		{
			name:         "route -h",
			args:         []string{"route", "-h"},
			expectedCode: 0,
			stdout:       []string{"Usage: rpcproxy route", "Examples:", "-int -- 42 -1", "-cluster name", "-int"},
			stderrEmpty:  true,
		},
		{
			name:         "unknown command",
			args:         []string{"serve-forever"},
			expectedCode: 2,
			stderr:       []string{`unknown command "serve-forever"`, "Usage:"},
			stdoutEmpty:  true,
		},
		{
			name:         "unknown flag",
			args:         []string{"check", "-conf", good},
			expectedCode: 2,
			stderr:       []string{"flag provided but not defined: -conf", "Usage: rpcproxy check"},
			stdoutEmpty:  true,
		},
		{
			name:         "check without -config",
			args:         []string{"check"},
			expectedCode: 2,
			stderr:       []string{"want -config FILE"},
		},
		{
			name:         "check a valid config prints the summary",
			args:         []string{"check", "-config", good},
			expectedCode: 0,
			stdout: []string{
				"OK, 2 clusters",
				"listen           127.0.0.1:9300 (tcp)\n", // no key_file: no UDP
				"admin            127.0.0.1:9301\n",
				"timeout margin   10ms before an app's own deadline (at most a tenth of its timeout)\n",
				"max connections  10000 (over all app ports)\n",
				"requests         256MiB in flight, 16777199 bytes each at most",
				"answers held     256MiB at most (for apps behind on reading, and fan-outs waiting for shards)\n",
				"schemas          ", "/redis.tl\n",
				"cluster redis", "functions  redis.*", "sharding   ketama (key hash md5)",
				"#  name", "0  127.0.0.1:6379  1       127.0.0.1:6379",
				"1  127.0.0.1:6380  1       127.0.0.1:6380, 127.0.0.2:6380",
				"cluster users", "actor id   7", "sharding   firstint\n",
			},
			stderrEmpty: true,
		},
		{
			name:         "check a config with a key and pprof: UDP on, the key checked, never printed; profiles on",
			args:         []string{"check", "-config", keyed},
			expectedCode: 0,
			stdout: []string{"listen           127.0.0.1:9300 (tcp, udp)", "admin            127.0.0.1:9301 (with /debug/pprof/)\n",
				"udp idle peers   parked after 1m0s with nothing in flight; forgotten after as long (5s at least) unanswered\n", "key file", "key (32 bytes)"},
			stderrEmpty: true,
		},
		{
			name:         "check a broken config prints every problem",
			args:         []string{"check", "-config", broken},
			expectedCode: 1,
			stderr: []string{
				broken + `:2: proxy.listen: "localhost:9300": host "localhost" is not an IP address`,
				broken + `:6: cluster[0].sharding: "ketma": unknown sharding mode; allowed: firstint, hash, ketama, bounded`,
				broken + `:7: cluster[0].shards[1].replicas: empty`,
				"rpcproxy check: " + broken + ": 3 problems",
			},
			stdoutEmpty: true,
		},
		{
			name:         "check reads the key file as serve does",
			args:         []string{"check", "-config", noKey},
			expectedCode: 1,
			stderr:       []string{"rpcproxy check: " + noKey + ": rpcproxy: configs: key_file: open", "secrets/none.key: no such file"},
			stdoutEmpty:  true,
		},
		{
			name:         "check loads the schemas, and says where relative paths start",
			args:         []string{"check", "-config", noSchema},
			expectedCode: 1,
			stderr:       []string{"rpcproxy check: " + noSchema + ": rpcproxy: schemas:", "memcache.tl: no such file", "relative to the config file's folder"},
			stdoutEmpty:  true,
		},
		{
			name:         "check builds the routing table: a key rule naming no argument",
			args:         []string{"check", "-config", badRule},
			expectedCode: 1,
			stderr:       []string{"rpcproxy check: " + badRule + `: route: cluster "users": key rules:`, `memcache.getMulti has no argument "kees"`},
			stdoutEmpty:  true,
		},
		{
			name:         "check a missing file",
			args:         []string{"check", "-config", filepath.Join(t.TempDir(), "none.toml")},
			expectedCode: 1,
			stderr:       []string{"rpcproxy check: configs: open", "no such file"},
		},
		{
			name:         "route the ketama worked example",
			args:         []string{"route", "-config", good, "-cluster", "redis", "foo", "bar", "hello"},
			expectedCode: 0,
			stdout: []string{
				"foo\t0\t127.0.0.1:6379\t127.0.0.1:6379\n" +
					"bar\t2\t127.0.0.1:6381\t127.0.0.1:6381\n" +
					"hello\t0\t127.0.0.1:6379\t127.0.0.1:6379\n",
			},
			stderrEmpty: true,
		},
		{
			name:         "route more keys of the worked example",
			args:         []string{"route", "-config", good, "-cluster", "redis", "user:1000", "a", "VDEAAAAA"},
			expectedCode: 0,
			stdout:       []string{"user:1000\t2\t", "a\t2\t", "VDEAAAAA\t0\t"},
		},
		{
			name:         "route firstint strings and ints",
			args:         []string{"route", "-config", good, "-cluster", "users", "photo100_500", "user_42"},
			expectedCode: 0,
			stdout:       []string{"photo100_500\t0\t127.0.0.1:7000\t127.0.0.1:7000\n", "user_42\t2\t127.0.0.1:7002\t"},
		},
		{
			name:         "route -int uses the Euclidean remainder",
			args:         []string{"route", "-config", good, "-cluster", "users", "-int", "--", "-1", "5"},
			expectedCode: 0,
			stdout:       []string{"-1\t3\t127.0.0.1:7003\t127.0.0.1:7003\n5\t1\t"},
		},
		{
			name:         "route a firstint key without digits",
			args:         []string{"route", "-config", good, "-cluster", "users", "user_7", "nodigits"},
			expectedCode: 1,
			stdout:       []string{"user_7\t3\t"},
			stderr:       []string{"no decimal digits", `"nodigits"`},
		},
		{
			name:         "route -int with a non-integer key",
			args:         []string{"route", "-config", good, "-cluster", "users", "-int", "x1"},
			expectedCode: 1,
			stderr:       []string{`key "x1" is not an int64`},
			stdoutEmpty:  true,
		},
		{
			name:         "route to an unknown cluster lists the known ones",
			args:         []string{"route", "-config", good, "-cluster", "photo", "k"},
			expectedCode: 1,
			stderr:       []string{`no cluster "photo"; clusters: redis, users`},
			stdoutEmpty:  true,
		},
		{
			name:         "route without -cluster needs a single cluster",
			args:         []string{"route", "-config", good, "k"},
			expectedCode: 1,
			stderr:       []string{"2 clusters, choose one with -cluster: redis, users"},
		},
		{
			name:         "route without keys",
			args:         []string{"route", "-config", good, "-cluster", "redis"},
			expectedCode: 2,
			stderr:       []string{"at least one KEY", "Usage: rpcproxy route"},
		},
		{
			name:         "route on a broken config prints its problems",
			args:         []string{"route", "-config", broken, "-cluster", "a", "k"},
			expectedCode: 1,
			stderr:       []string{"unknown sharding mode", "rpcproxy route: " + broken + ": 3 problems"},
			stdoutEmpty:  true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, tc.args...)
			if code != tc.expectedCode {
				t.Errorf("exit code %d, want %d", code, tc.expectedCode)
			}
			expectInOrder(t, "stdout", stdout, tc.stdout)
			expectInOrder(t, "stderr", stderr, tc.stderr)
			if tc.stdoutEmpty && stdout != "" {
				t.Errorf("stdout not empty:\n%s", stdout)
			}
			if tc.stderrEmpty && stderr != "" {
				t.Errorf("stderr not empty:\n%s", stderr)
			}
			if t.Failed() {
				t.Logf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
			}
		})
	}
}

// expectInOrder checks that every substring occurs in out, each after the
// previous one.
func expectInOrder(t *testing.T, name, out string, subs []string) {
	t.Helper()
	rest := out
	for _, s := range subs {
		i := strings.Index(rest, s)
		if i < 0 {
			t.Errorf("%s lacks %q (in order)", name, s)
			return
		}
		rest = rest[i+len(s):]
	}
}

// TestCheckExamples runs check on every example config of the repository,
// as an admin would on a host set up for it: each file is copied into a
// folder beside the repository's engines/ (where their relative schema
// paths point), with the schemas of configs/ and the key file
// production.toml names (secrets/rpcproxy.key: a host's secret, never in
// the repository).
func TestCheckExamples(t *testing.T) {
	files, err := filepath.Glob("../../configs/*.toml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configs found: %v", err)
	}
	host := t.TempDir()
	engines, err := filepath.Abs("../../engines")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(engines, filepath.Join(host, "engines")); err != nil {
		t.Fatal(err)
	}
	secrets := filepath.Join(host, "configs", "secrets")
	if err := os.MkdirAll(secrets, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(secrets, "rpcproxy.key"), []byte("0123456789abcdef0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	schemas, err := filepath.Glob("../../configs/*.tl") // the examples' own schemas
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range schemas {
		data, err := os.ReadFile(src)
		if err == nil {
			err = os.WriteFile(filepath.Join(host, "configs", filepath.Base(src)), data, 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, src := range files {
		t.Run(filepath.Base(src), func(t *testing.T) {
			data, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			f := filepath.Join(host, "configs", filepath.Base(src))
			if err := os.WriteFile(f, data, 0o600); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := runCmd(t, "check", "-config", f)
			if code != 0 || stderr != "" {
				t.Fatalf("check %s: exit %d\n%s", f, code, stderr)
			}
			if !strings.Contains(stdout, ": OK, ") || !strings.Contains(stdout, "\ncluster ") {
				t.Errorf("check %s printed no summary:\n%s", f, stdout)
			}
		})
	}
}

func TestRouteDemo(t *testing.T) {
	code, stdout, stderr := runCmd(t, "route", "-config", "../../configs/demo.toml", "-cluster", "memcache", "foo", "bar", "hello")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3:\n%s", len(lines), stdout)
	}
	for i, key := range []string{"foo", "bar", "hello"} {
		f := strings.Split(lines[i], "\t")
		if len(f) != 4 || f[0] != key || !strings.HasPrefix(f[2], "127.0.0.1:931") || f[2] != f[3] {
			t.Errorf("line %d = %q, want key %s, index, demo shard name and its replica", i, lines[i], key)
		}
	}
}
