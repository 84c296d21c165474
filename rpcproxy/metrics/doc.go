// Package metrics holds the proxy's counters: per cluster requests, errors,
// timeouts, fan-outs (sub-requests sent and failed, partial answers) and a
// latency histogram, and per cluster and function requests, errors,
// timeouts and a latency histogram. Counters are atomics updated on the
// request path without locks or allocation; a Registry keeps one Cluster
// per name, and one Function per cluster and function, across config
// reloads, so counters do not reset when the table is rebuilt. The admin
// handlers in the root package render them as JSON and as Prometheus text.
package metrics
