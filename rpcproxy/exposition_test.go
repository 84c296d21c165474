package rpcproxy

import (
	"fmt"
	"math"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rpcproxy/rpcproxy/rpcproxy/enginetest"
	"github.com/rpcproxy/rpcproxy/tl"
	"github.com/rpcproxy/rpcproxy/tl/rpc"
)

// scrapeMetrics returns p's /metrics page, failing the test unless it is
// valid exposition text.
func scrapeMetrics(t *testing.T, p *testProxy) string {
	t.Helper()
	rec := httptest.NewRecorder()
	p.serveMetrics(rec, httptest.NewRequest("GET", "/metrics", nil))
	page := rec.Body.String()
	if err := checkExposition(page); err != nil {
		t.Fatalf("/metrics is not valid Prometheus text: %v\n%s", err, page)
	}
	return page
}

// checkExposition checks text against the Prometheus text exposition
// format (version 0.0.4), strictly enough that a scrape of it cannot fail
// or be misread: it returns the first problem, naming its line.
//
//   - names and label names are valid, label values escaped (\\ \" \n only),
//     values are floats;
//   - every sample comes after its family's one TYPE line, and a family's
//     lines are one group (a family split in two is refused by scrapers);
//   - no series (name and labels) twice, no label twice in a sample;
//   - counters end in _total and are not negative;
//   - a histogram series has buckets with increasing le ending at +Inf,
//     counts that never decrease, and _sum and a _count equal to the +Inf
//     bucket; a summary series has quantiles in [0, 1], _sum and _count.
func checkExposition(text string) error {
	if text != "" && !strings.HasSuffix(text, "\n") {
		return fmt.Errorf("the last line has no newline")
	}
	types := map[string]string{} // family -> type
	helps := map[string]bool{}
	series := map[string]bool{}
	groups := map[string]*seriesGroup{} // histogram or summary series, by family and labels without le/quantile
	var order []string
	cur := "" // the family whose group is open
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		n := i + 1
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "# TYPE "):
			f := strings.Fields(strings.TrimPrefix(line, "# TYPE "))
			if len(f) != 2 || !validName(f[0], true) {
				return fmt.Errorf("line %d: malformed TYPE line %q", n, line)
			}
			if !slices.Contains([]string{"counter", "gauge", "histogram", "summary", "untyped"}, f[1]) {
				return fmt.Errorf("line %d: unknown type %q", n, f[1])
			}
			if _, ok := types[f[0]]; ok {
				return fmt.Errorf("line %d: a second TYPE line for %s", n, f[0])
			}
			if helps[f[0]] && cur != f[0] {
				return fmt.Errorf("line %d: TYPE of %s away from its HELP", n, f[0])
			}
			types[f[0]], cur = f[1], f[0]
		case strings.HasPrefix(line, "# HELP "):
			name, _, _ := strings.Cut(strings.TrimPrefix(line, "# HELP "), " ")
			if !validName(name, true) {
				return fmt.Errorf("line %d: malformed HELP line %q", n, line)
			}
			if helps[name] {
				return fmt.Errorf("line %d: a second HELP line for %s", n, name)
			}
			if _, typed := types[name]; typed && cur != name {
				return fmt.Errorf("line %d: HELP of %s away from its group", n, name)
			}
			helps[name], cur = true, name
		case strings.HasPrefix(line, "#"):
			continue
		default:
			name, labels, value, err := parseSample(line)
			if err != nil {
				return fmt.Errorf("line %d: %v: %q", n, err, line)
			}
			fam, suffix := familyOf(name, types)
			typ, ok := types[fam]
			if !ok {
				return fmt.Errorf("line %d: sample of %s before its TYPE line", n, name)
			}
			if fam != cur {
				return fmt.Errorf("line %d: sample of %s outside its family's group (the open group is %s)", n, name, cur)
			}
			id := name + "{" + labelsKey(labels, "") + "}"
			if series[id] {
				return fmt.Errorf("line %d: series %s twice", n, id)
			}
			series[id] = true
			if err := checkSample(typ, name, suffix, labels, value); err != nil {
				return fmt.Errorf("line %d: %v", n, err)
			}
			if typ == "histogram" || typ == "summary" {
				key := fam + "{" + labelsKey(labels, map[string]string{"histogram": "le", "summary": "quantile"}[typ]) + "}"
				g := groups[key]
				if g == nil {
					g = &seriesGroup{typ: typ}
					groups[key] = g
					order = append(order, key)
				}
				if err := g.add(suffix, labels, value); err != nil {
					return fmt.Errorf("line %d: %s: %v", n, key, err)
				}
			}
		}
	}
	for _, key := range order {
		if err := groups[key].complete(); err != nil {
			return fmt.Errorf("%s: %v", key, err)
		}
	}
	return nil
}

// familyOf names the family a sample belongs to: a histogram's or
// summary's samples carry a suffix after the family name.
func familyOf(name string, types map[string]string) (string, string) {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if t := types[base]; ok && (t == "histogram" || t == "summary") && (suffix != "_bucket" || t == "histogram") {
			return base, suffix
		}
	}
	return name, ""
}

func checkSample(typ, name, suffix string, labels map[string]string, value float64) error {
	switch {
	case typ == "counter" && !strings.HasSuffix(name, "_total"):
		return fmt.Errorf("counter %s: want a name ending in _total", name)
	case typ == "counter" && (value < 0 || math.IsNaN(value)):
		return fmt.Errorf("counter %s is %v", name, value)
	case typ == "histogram" && suffix == "":
		return fmt.Errorf("histogram %s: a sample without _bucket, _sum or _count", name)
	case typ == "histogram" && suffix == "_bucket" && labels["le"] == "":
		return fmt.Errorf("bucket %s without le", name)
	case typ == "histogram" && suffix != "_bucket" && labels["le"] != "":
		return fmt.Errorf("%s with an le label", name)
	case typ == "summary" && suffix == "" && labels["quantile"] == "":
		return fmt.Errorf("summary %s without quantile", name)
	}
	return nil
}

// seriesGroup is one histogram or summary series: its buckets or
// quantiles in order, its _sum and _count.
type seriesGroup struct {
	typ           string
	bounds, vals  []float64
	sum, count    float64
	hasSum, hasCt bool
}

func (g *seriesGroup) add(suffix string, labels map[string]string, v float64) error {
	switch suffix {
	case "_sum":
		g.sum, g.hasSum = v, true
	case "_count":
		g.count, g.hasCt = v, true
	default:
		label := map[string]string{"histogram": "le", "summary": "quantile"}[g.typ]
		b, err := strconv.ParseFloat(labels[label], 64)
		if err != nil {
			return fmt.Errorf("%s=%q: %v", label, labels[label], err)
		}
		if g.typ == "summary" && (b < 0 || b > 1) {
			return fmt.Errorf("quantile %v outside [0, 1]", b)
		}
		if n := len(g.bounds); n > 0 && b <= g.bounds[n-1] {
			return fmt.Errorf("%s %v after %v: want increasing", label, b, g.bounds[n-1])
		}
		if n := len(g.vals); g.typ == "histogram" && n > 0 && v < g.vals[n-1] {
			return fmt.Errorf("bucket le=%v holds %v, less than the bucket before (%v)", b, v, g.vals[n-1])
		}
		g.bounds, g.vals = append(g.bounds, b), append(g.vals, v)
	}
	return nil
}

func (g *seriesGroup) complete() error {
	switch {
	case !g.hasSum || !g.hasCt:
		return fmt.Errorf("no _sum or no _count")
	case g.typ == "histogram" && (len(g.bounds) == 0 || !math.IsInf(g.bounds[len(g.bounds)-1], 1)):
		return fmt.Errorf("no le=\"+Inf\" bucket")
	case g.typ == "histogram" && g.vals[len(g.vals)-1] != g.count:
		return fmt.Errorf("+Inf bucket %v, _count %v: want equal", g.vals[len(g.vals)-1], g.count)
	}
	return nil
}

// parseSample reads `name{label="value",...} value [timestamp]`.
func parseSample(line string) (string, map[string]string, float64, error) {
	end := strings.IndexAny(line, "{ ")
	if end < 0 {
		return "", nil, 0, fmt.Errorf("no value")
	}
	name, rest := line[:end], line[end:]
	if !validName(name, true) {
		return "", nil, 0, fmt.Errorf("invalid metric name %q", name)
	}
	labels := map[string]string{}
	if strings.HasPrefix(rest, "{") {
		rest = rest[1:]
		for !strings.HasPrefix(rest, "}") {
			eq := strings.Index(rest, "=")
			if eq < 0 || !validName(rest[:eq], false) {
				return "", nil, 0, fmt.Errorf("malformed label at %q", rest)
			}
			ln := rest[:eq]
			if _, dup := labels[ln]; dup {
				return "", nil, 0, fmt.Errorf("label %s twice", ln)
			}
			v, after, err := unquoteLabel(rest[eq+1:])
			if err != nil {
				return "", nil, 0, fmt.Errorf("label %s: %v", ln, err)
			}
			labels[ln] = v
			rest = after
			if strings.HasPrefix(rest, ",") {
				rest = rest[1:]
			} else if !strings.HasPrefix(rest, "}") {
				return "", nil, 0, fmt.Errorf("want ',' or '}' at %q", rest)
			}
		}
		rest = rest[1:]
	}
	f := strings.Split(strings.TrimPrefix(rest, " "), " ")
	if !strings.HasPrefix(rest, " ") || len(f) < 1 || len(f) > 2 {
		return "", nil, 0, fmt.Errorf("want one space, a value and an optional timestamp")
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return "", nil, 0, fmt.Errorf("value %q: %v", f[0], err)
	}
	if len(f) == 2 {
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			return "", nil, 0, fmt.Errorf("timestamp %q: %v", f[1], err)
		}
	}
	return name, labels, v, nil
}

// unquoteLabel reads a quoted label value at the start of s.
func unquoteLabel(s string) (string, string, error) {
	if !strings.HasPrefix(s, `"`) {
		return "", "", fmt.Errorf("value not quoted")
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], nil
		case '\n':
			return "", "", fmt.Errorf("raw newline in a value")
		case '\\':
			if i+1 == len(s) {
				return "", "", fmt.Errorf("value ends in a backslash")
			}
			i++
			switch s[i] {
			case '\\', '"':
				b.WriteByte(s[i])
			case 'n':
				b.WriteByte('\n')
			default:
				return "", "", fmt.Errorf("escape \\%c: want \\\\, \\\" or \\n", s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", fmt.Errorf("value not closed")
}

func validName(s string, metric bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || (metric && c == ':') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			return false
		}
	}
	return true
}

// labelsKey prints labels sorted, without the one named skip.
func labelsKey(labels map[string]string, skip string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		if k != skip {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(labels[k])
	}
	return strings.Join(parts, ",")
}

// TestCheckExposition: the checker refuses each kind of mistake it is
// there to catch, and accepts a page that has every kind of family.
func TestCheckExposition(t *testing.T) {
	const good = "# HELP a_total A.\n# TYPE a_total counter\na_total{c=\"x\"} 1\na_total{c=\"y \\\"q\\\" \\\\ \\n\"} 0\n" +
		"# TYPE g gauge\ng 1.5\n" +
		"# HELP h Latency.\n# TYPE h histogram\nh_bucket{c=\"x\",le=\"0.1\"} 1\nh_bucket{c=\"x\",le=\"+Inf\"} 3\nh_sum{c=\"x\"} 0.7\nh_count{c=\"x\"} 3\n" +
		"h_bucket{c=\"y\",le=\"+Inf\"} 0\nh_sum{c=\"y\"} 0\nh_count{c=\"y\"} 0\n" +
		"# TYPE s summary\ns{e=\"1\",quantile=\"0.5\"} 0.01\ns{e=\"1\",quantile=\"0.99\"} 0.1\ns_sum{e=\"1\"} 1\ns_count{e=\"1\"} 9\n"
	if err := checkExposition(good); err != nil {
		t.Fatalf("a good page refused: %v", err)
	}
	for _, tc := range []struct{ name, text, want string }{
		{"no TYPE", "x_total 1\n", "before its TYPE"},
		{"second TYPE", "# TYPE x_total counter\nx_total 1\n# TYPE x_total counter\n", "a second TYPE"},
		{"family split", "# TYPE x_total counter\nx_total{a=\"1\"} 1\n# TYPE g gauge\ng 1\nx_total{a=\"2\"} 1\n", "outside its family's group"},
		{"series twice", "# TYPE g gauge\ng{a=\"1\"} 1\ng{a=\"1\"} 2\n", "twice"},
		{"label twice", "# TYPE g gauge\ng{a=\"1\",a=\"2\"} 1\n", "label a twice"},
		{"bad escape", "# TYPE g gauge\ng{a=\"\\t\"} 1\n", "escape"},
		{"unquoted value", "# TYPE g gauge\ng{a=1} 1\n", "not quoted"},
		{"bad metric name", "# TYPE 1g gauge\n1g 1\n", "malformed TYPE"},
		{"bad value", "# TYPE g gauge\ng one\n", "value"},
		{"counter name", "# TYPE c counter\nc 1\n", "ending in _total"},
		{"negative counter", "# TYPE c_total counter\nc_total -1\n", "is -1"},
		{"no +Inf", "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", "+Inf"},
		{"le decreasing", "# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\n", "want increasing"},
		{"counts decreasing", "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n", "less than the bucket before"},
		{"count not +Inf", "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n", "want equal"},
		{"no sum", "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 2\n", "no _sum"},
		{"quantile range", "# TYPE s summary\ns{quantile=\"2\"} 1\n", "outside [0, 1]"},
		{"no newline", "# TYPE g gauge\ng 1", "no newline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkExposition(tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// TestMetricsExposition: /metrics of a proxy that has seen every kind of
// traffic (gets, sets, a split getMulti, an engine's error answer, a
// refused request, a rate-limited one, a diagonal, two clusters) is valid
// Prometheus text, so no scrape of it fails.
func TestMetricsExposition(t *testing.T) {
	var eng []*enginetest.Server
	for range 4 {
		eng = append(eng, storeEngine(t, newMemcache(t).Funcs()))
	}
	side := startEngines(t, 1)
	side[0].Handler = func(r *enginetest.Request) enginetest.Reply {
		return enginetest.Reply{ErrCode: rpc.CodeBadValue, ErrText: "side says no"}
	}
	text := fanoutHeader("2s") + fmt.Sprintf(`
[[cluster]]
name = "mc"
functions = ["memcache.*"]
sharding = "hash"
shards = [{ replicas = [%q] }, { replicas = [%q] }, { replicas = [%q] }, { replicas = [%q] }]
[[cluster.function]]
name = "memcache.set"
rate_limit = 1000
burst = 3

[[cluster]]
name = "side"
actor_id = 7
shards = [{ replicas = [%q] }]
`, eng[0].Addr, eng[1].Addr, eng[2].Addr, eng[3].Addr, side[0].Addr)
	// A clock that stands still: exactly the burst of sets passes.
	clock := &stepClock{base: time.Now()}
	p := startProxy(t, parseConfig(t, text), Options{NoAdmin: true, Now: clock.Now})
	a := dialApp(t, p.addr(t, mainListen))
	qid := int64(0)
	call := func(body []byte, actor int64) rpc.ReqResult {
		qid++
		return a.call(t, &rpc.InvokeReq{QueryID: qid, ActorID: actor, Body: body})
	}
	for i := range 5 { // the last 2 sets are over the burst
		call(mcSet(fmt.Sprintf("k%d", i), "v"), 0)
	}
	mustOK(t, call(getCall(t, "k1"), 0))
	mustOK(t, call(mcGetMulti("k0", "k1", "k2", "k3", "nope"), 0))
	wantError(t, call(getCall(t, "x"), 7), rpc.CodeBadValue, "side says no")
	wantError(t, call(tl.AppendUint32(nil, 0x0badf00d), 0), rpc.CodeProxyNoTarget, "")

	page := scrapeMetrics(t, p)
	for _, want := range []string{
		`rpcproxy_rate_limited_total{cluster="mc"} 2`,
		`rpcproxy_fanouts_total{cluster="mc"} 1`,
		`rpcproxy_errors_total{cluster="side"} 1`,
		`rpcproxy_function_requests_total{cluster="mc",function="memcache.getMulti"} 1`,
	} {
		if !strings.Contains(page, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
