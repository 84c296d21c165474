#!/usr/bin/env bash
# bench-proxy.sh is `make bench-proxy`: the proxy against direct engine
# access, measured the way docs/peers.md §2 measured twemproxy.
#
# Server side (4 memcache engines and the proxy, GOMAXPROCS=1 each) is
# pinned to core 0 with taskset, rpcbench to core 1. For each case, runs
# alternate "direct to one engine" and "through the proxy" (4 engines
# behind it, ketama); every run is -warmup 1s, then DURATION measured,
# 10,000 keys x 100 B values, prefilled. The table reports per case the
# median ops/s of each side, their ratio, the lowest and highest ratio of
# a pair of runs made back to back (how far the machine drifted), and the
# added p50/p99 (medians of the runs' percentiles). It is printed and saved to bin/bench-proxy.md;
# the raw rpcbench reports are kept in bin/bench-proxy/.
#
#   RUNS=5 DURATION=8s WARMUP=1s scripts/bench-proxy.sh   # the defaults
#   RUNS=3 DURATION=4s scripts/bench-proxy.sh             # shorter
#   MGET=1 scripts/bench-proxy.sh                         # also 10-key getMulti
#   NETWORK=udp scripts/bench-proxy.sh                    # apps over UDP vs TCP
#   KEYHASH=md5 scripts/bench-proxy.sh                    # ketama's key hash (default fnv1a_64)
#   SHARDS=1 scripts/bench-proxy.sh                       # 1 engine behind the proxy (default 4)
#   COALESCE=1 MGET=1 scripts/bench-proxy.sh              # getMulti with coalesce = true
#   RATE=20000 scripts/bench-proxy.sh                     # CPU per request at a fixed load
#   RELAY=1 scripts/bench-proxy.sh                        # also a relay that parses nothing (the floor)
#
# SHARDS=1 puts the direct engine alone behind the proxy: the ratio is then
# the cost of the hop itself, with no spreading of the load over several
# engine processes (smaller batches per engine, more context switches on
# core 0). The default, 4, is peers.md's setup for twemproxy.
#
# The "core µs/op added" column is 1/proxy − 1/direct throughput: with core
# 0 saturated (c=64, pipelined) it is what the hop costs that core per
# request, whatever the engine behind it costs. For twemproxy, peers.md's
# figures give 6.8 µs at c=64, 2.6 µs pipelined, 30.8 µs per 10-key mget at
# c=64.
#
# NETWORK=udp compares, in the same run, small gets through the proxy from
# apps over VK's UDP transport (rpcbench -network udp -key-file; always
# encrypted) against apps over TCP (plain on loopback), c=1 and c=64. The
# proxy gets key_file (so it listens for UDP on its TCP port); the engines
# are reached over ENGINE_TRANSPORT (tcp by default, or udp: the engines
# then serve -udp with the same key).
#
# RATE=R measures what the hop costs at a load the engines are far from
# saturating, which is where a sidecar spends its life: rpcbench paces
# R requests/s (-rate, latencies from each request's due time) over 64
# connections, gets (and with MGET=1 10-key getMultis at R/10), and the
# table gives the CPU time per request of each side from /proc/PID/stat:
# the direct engine's, and the proxy's and its
# engines' (the keys are prefilled once per side, and the runs have no
# warm-up, so nothing else is counted).
#
# RELAY=1 adds a third side to every round: bin/relay (cmd/relay), a TCP
# relay that copies bytes 1:1 to the direct engine and parses nothing,
# pinned to core 0 like the proxy. What it keeps of the direct engine's
# throughput is what any hop costs on this machine before it does work of
# its own: the floor a proxy's ratio is to be read against. With RATE, the
# table gives the relay's CPU per request beside the proxy's.
#
# Compare ratios, not absolute numbers: on a shared machine they move
# with whatever else runs (the table's header says so).
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
RUNS=${RUNS:-5}
DURATION=${DURATION:-8s}
WARMUP=${WARMUP:-1s}
PROXY_PORT=${PROXY_PORT:-} # proxy; admin is PROXY_PORT+1; default: the first free pair from 29300
NETWORK=${NETWORK:-tcp}
ENGINE_TRANSPORT=${ENGINE_TRANSPORT:-tcp}
# fnv1a_64 by default: the key hash peers.md §2 ran twemproxy's ketama
# with (VK's engines and libketama use md5).
KEYHASH=${KEYHASH:-fnv1a_64}
SHARDS=${SHARDS:-4}
COALESCE=${COALESCE:-0}
RATE=${RATE:-0}
RELAY=${RELAY:-0}
[[ $NETWORK == tcp || $NETWORK == udp ]] || { printf 'bench-proxy: NETWORK=%s: want tcp or udp\n' "$NETWORK" >&2; exit 1; }
[[ $ENGINE_TRANSPORT == tcp || $ENGINE_TRANSPORT == udp ]] || { printf 'bench-proxy: ENGINE_TRANSPORT=%s: want tcp or udp\n' "$ENGINE_TRANSPORT" >&2; exit 1; }
[[ $SHARDS =~ ^[1-8]$ ]] || { printf 'bench-proxy: SHARDS=%s: want 1 to 8 engines behind the proxy\n' "$SHARDS" >&2; exit 1; }
[[ $RATE =~ ^[0-9]+$ ]] && ((RATE <= 10000000)) || { printf 'bench-proxy: RATE=%s: want requests per second, 0 (closed loop) to 10000000\n' "$RATE" >&2; exit 1; }
[[ $RATE == 0 || $NETWORK == tcp ]] || { printf 'bench-proxy: RATE works with NETWORK=tcp only\n' >&2; exit 1; }
[[ $RELAY == 0 || $RELAY == 1 ]] || { printf 'bench-proxy: RELAY=%s: want 0 or 1\n' "$RELAY" >&2; exit 1; }
[[ $RELAY == 0 || $NETWORK == tcp ]] || { printf 'bench-proxy: RELAY=1 works with NETWORK=tcp only\n' >&2; exit 1; }
[[ $KEYHASH =~ ^(md5|crc32|fnv1a_64|xxhash)$ ]] || { printf 'bench-proxy: KEYHASH=%s: want md5, crc32, fnv1a_64 or xxhash\n' "$KEYHASH" >&2; exit 1; }
OUT=$BIN/bench-proxy
[[ $NETWORK == udp ]] && OUT=$BIN/bench-proxy-udp
((RATE > 0)) && OUT=$BIN/bench-proxy-rate
SCHEMA=$PWD/engines/memcache/memcache.tl

# name|rpcbench flags
CASES=(
	"get, c=1, d=1 (latency)|-c 1 -d 1"
	"get, c=64, d=1 (throughput)|-c 64 -d 1"
	"get, c=16, d=16 (pipelined, -batch)|-c 16 -d 16 -batch"
)
# MGET=1 adds peers.md's multi-get rows: direct, one engine answers all 10
# keys; through the proxy the getMulti is split over the SHARDS shards.
if [[ $NETWORK == udp ]]; then
	CASES=(
		"get, c=1, d=1 (latency)|-c 1 -d 1"
		"get, c=64, d=1 (throughput)|-c 64 -d 1"
	)
fi
if ((RATE > 0)); then
	CASES=("get, c=64, paced at $RATE/s|-c 64 -d 1 -rate $RATE")
	MGET_CASES=("mget 10 keys, c=64, paced at $((RATE / 10))/s|-c 64 -d 1 -mix mget=1 -mget-keys 10 -rate $((RATE / 10))")
else
	MGET_CASES=(
		"mget 10 keys, c=1, d=1|-c 1 -d 1 -mix mget=1 -mget-keys 10"
		"mget 10 keys, c=64, d=1|-c 64 -d 1 -mix mget=1 -mget-keys 10"
	)
fi
if [[ ${MGET:-0} == 1 ]]; then
	CASES+=("${MGET_CASES[@]}")
fi

die() {
	printf 'bench-proxy: %s\n' "$*" >&2
	exit 1
}

PIDS=()
cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

command -v taskset >/dev/null || die "taskset not found: it comes from util-linux (apt-get install util-linux); the method pins the server side to core 0 and rpcbench to core 1"
(($(nproc) >= 2)) || die "needs at least 2 cores (server side on core 0, rpcbench on core 1); this machine has $(nproc)"
for b in engine rpcproxy rpcbench; do
	[[ -x $BIN/$b ]] || die "$BIN/$b is missing: run 'make build' first"
done
secs() { # a Go duration of whole or fractional seconds/ms -> whole seconds, rounded up
	local d=$1
	case $d in
	*ms) echo $(((${d%ms} + 999) / 1000)) ;;
	*s) echo $((${d%s} + 0)) ;;
	*) die "DURATION/WARMUP: want e.g. 8s or 500ms, got $d" ;;
	esac
}
RUN_LIMIT=$(($(secs "$DURATION") + $(secs "$WARMUP") + 60)) # prefill + drain margin
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if [[ -z $PROXY_PORT ]]; then
	for p in $(seq 29300 2 29398); do
		if ! in_use "$p" && ! in_use $((p + 1)); then PROXY_PORT=$p && break; fi
	done
	[[ -n $PROXY_PORT ]] || die "no free port pair in 29300-29399 (set PROXY_PORT)"
fi
for port in "$PROXY_PORT" $((PROXY_PORT + 1)); do
	if in_use "$port"; then die "port $port is in use (set PROXY_PORT)"; fi
done
rm -rf "$OUT" && mkdir -p "$OUT"
KEYFILE=$(cd "$OUT" && pwd)/key
KEY_FLAGS=()
ENGINE_FLAGS=()
if [[ $NETWORK == udp || $ENGINE_TRANSPORT == udp ]]; then
	head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$KEYFILE" # 96 hex bytes, never all-zero id
	KEY_FLAGS=(-key-file "$KEYFILE")
fi
[[ $ENGINE_TRANSPORT == udp ]] && ENGINE_FLAGS=(-udp -key-file "$KEYFILE")

# wait_for tries "$@" every 100ms for at most 10s.
wait_for() {
	for _ in $(seq 100); do
		if "$@"; then return 0; fi
		sleep 0.1
	done
	return 1
}

ENGINES=()
for i in $(seq "$SHARDS"); do
	taskset -c 0 env GOMAXPROCS=1 "$BIN/engine" -kind memcache -listen 127.0.0.1:0 "${ENGINE_FLAGS[@]}" \
		>"$OUT/engine-$i.out" 2>"$OUT/engine-$i.log" &
	PIDS+=($!)
	wait_for test -s "$OUT/engine-$i.out" || die "engine $i did not start: $(tail -3 "$OUT/engine-$i.log")"
	ENGINES+=("$(head -1 "$OUT/engine-$i.out")")
done
cat >"$OUT/bench.toml" <<EOF
# Written by scripts/bench-proxy.sh.
[proxy]
listen = "127.0.0.1:$PROXY_PORT"
admin = "127.0.0.1:$((PROXY_PORT + 1))"
timeout = "1s"
schemas = ["$SCHEMA"]
log_level = "warn"
$([[ ${#KEY_FLAGS[@]} -gt 0 ]] && echo "key_file = \"$KEYFILE\"")

[[cluster]]
name = "memcache"
functions = ["memcache.*"]
sharding = "ketama"
hash = "$KEYHASH"
transport = "$ENGINE_TRANSPORT"
shards = [
$(for e in "${ENGINES[@]}"; do echo "  { replicas = [\"$e\"] },"; done)
]
EOF
if [[ $COALESCE == 1 ]]; then
	printf '\n[[cluster.function]]\nname = "memcache.getMulti"\nkey = "keys"\ncoalesce = true\n' >>"$OUT/bench.toml"
fi
taskset -c 0 env GOMAXPROCS=1 "$BIN/rpcproxy" serve -config "$OUT/bench.toml" -watch 0 \
	>"$OUT/proxy.out" 2>"$OUT/proxy.log" &
PIDS+=($!)
healthy() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$((PROXY_PORT + 1)) && printf 'GET /healthz HTTP/1.0\r\n\r\n' >&3 && grep -q '^ok' <&3" 2>/dev/null; }
wait_for healthy || die "the proxy did not become healthy: $(tail -5 "$OUT/proxy.log")"

DIRECT=${ENGINES[0]}
PROXY=127.0.0.1:$PROXY_PORT
RELAY_ADDR=
if [[ $RELAY == 1 ]]; then
	taskset -c 0 env GOMAXPROCS=1 "$BIN/relay" -to "$DIRECT" >"$OUT/relay.out" 2>"$OUT/relay.log" &
	PIDS+=($!)
	wait_for test -s "$OUT/relay.out" || die "the relay did not start: $(tail -3 "$OUT/relay.log")"
	RELAY_ADDR=$(head -1 "$OUT/relay.out")
fi
# The two sides of every case: A is the baseline, B what is measured.
if [[ $NETWORK == udp ]]; then
	A_NAME=tcp A_ADDR=$PROXY A_FLAGS=()
	B_NAME=udp B_ADDR=$PROXY B_FLAGS=(-network udp "${KEY_FLAGS[@]}")
	A_TITLE="via proxy, app over TCP" B_TITLE="via proxy, app over UDP"
else
	A_NAME=direct A_ADDR=$DIRECT A_FLAGS=()
	B_NAME=proxy B_ADDR=$PROXY B_FLAGS=()
	A_TITLE=direct B_TITLE=proxy
fi
echo "bench-proxy: engines ${ENGINES[*]} (reached over $ENGINE_TRANSPORT, ketama with $KEYHASH); proxy $PROXY; direct target $DIRECT${RELAY_ADDR:+; relay $RELAY_ADDR to it}; apps over $NETWORK"
echo "bench-proxy: server side on core 0 (GOMAXPROCS=1 each), rpcbench on core 1; $RUNS runs per side per case, warm-up $([[ $RATE == 0 ]] && echo "$WARMUP" || echo 0s), $DURATION measured"

# field prints the number after "NAME": in a JSON report (the first one).
field() { grep -m1 "\"$1\":" "$2" | sed 's/.*: *//; s/,$//'; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# cpu_ns prints the CPU time, in ns, the server-side processes have used
# so far: the proxy's (after the engines in PIDS), the engines' (the
# first SHARDS) or the relay's (after the proxy; 0 without RELAY), user
# and system, from /proc/PID/stat (in clock ticks: 10 ms each, so runs of
# a few seconds are needed).
TICK_NS=$((1000000000 / $(getconf CLK_TCK)))
cpu_ns() { # proxy|engines|relay
	local pids=("${PIDS[@]:0:SHARDS}")
	[[ $1 == proxy ]] && pids=("${PIDS[SHARDS]}")
	[[ $1 == relay ]] && pids=("${PIDS[@]:SHARDS+1:RELAY}")
	local pid sum=0 stat
	for pid in "${pids[@]}"; do
		stat=$(<"/proc/$pid/stat") || die "cannot read /proc/$pid/stat"
		read -r -a f <<<"${stat##*) }" # the fields after the command name
		sum=$((sum + (f[11] + f[12]) * TICK_NS))  # utime, stime: fields 14 and 15
	done
	echo "$sum"
}

RUN_FLAGS=(-prefill -warmup "$WARMUP")
if ((RATE > 0)); then
	# Prefilled once per side here, and no warm-up, so that the CPU the
	# runs use is the paced requests' alone.
	for addr in "$DIRECT" "$PROXY"; do
		timeout "$RUN_LIMIT" taskset -c 1 "$BIN/rpcbench" -addr "$addr" -prefill -quiet -n 1 -warmup 0s -keys 10000 -value-size 100 -mix get=1 \
			>/dev/null 2>"$OUT/prefill.err" || die "prefill of $addr failed: $(tail -3 "$OUT/prefill.err")"
	done
	RUN_FLAGS=(-warmup 0s)
fi

bench() { # tag addr flags...
	local tag=$1 addr=$2
	shift 2
	local f=$OUT/$tag.json p0 e0 r0 cpu=""
	p0=$(cpu_ns proxy) e0=$(cpu_ns engines) r0=$(cpu_ns relay)
	# shellcheck disable=SC2086
	if ! timeout "$RUN_LIMIT" taskset -c 1 "$BIN/rpcbench" -addr "$addr" -quiet -json "${RUN_FLAGS[@]}" \
		-duration "$DURATION" -keys 10000 -value-size 100 -mix get=1 "$@" >"$f" 2>"$OUT/$tag.err"; then
		die "rpcbench $tag failed: $(tail -3 "$OUT/$tag.err")"
	fi
	if ((RATE > 0)); then
		# CPU µs per request of the proxy, the engines and the relay
		# during the run (only with RATE: a closed-loop run's prefill and
		# warm-up would count too).
		echo "$(($(cpu_ns proxy) - p0)) $(($(cpu_ns engines) - e0)) $(($(cpu_ns relay) - r0)) $(field requests "$f")" |
			awk '{printf "%.3f %.3f %.3f\n", $1 / 1e3 / $4, $2 / 1e3 / $4, $3 / 1e3 / $4}' >"$OUT/$tag.cpu"
		cpu=$(awk '{printf "  CPU µs/request: proxy %s, engines %s, relay %s", $1, $2, $3}' "$OUT/$tag.cpu")
	fi
	printf '  %-14s %10.0f ops/s  p50 %7.1f µs  p99 %7.1f µs  errors %s%s\n' "$tag" \
		"$(field ops_per_s "$f")" "$(field p50 "$f")" "$(field p99 "$f")" "$(field errors "$f")" "$cpu"
}

# COMMAS is an awk function: c(x) prints x rounded, with thousands separated.
COMMAS='function c(x,  s) { s = sprintf("%.0f", x); while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s); return s }'
RELAY_NOTE="The relay (bin/relay) copies bytes 1:1 to the direct engine and parses nothing: the floor any hop costs here."

TABLE=$BIN/bench-proxy.md
[[ $NETWORK == udp ]] && TABLE=$BIN/bench-proxy-udp.md
((RATE > 0)) && TABLE=$BIN/bench-proxy-rate.md
{
	echo "rpcproxy $B_TITLE vs $A_TITLE (engines over $ENGINE_TRANSPORT, ketama with $KEYHASH), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')), $RUNS runs per side, warm-up $([[ $RATE == 0 ]] && echo "$WARMUP" || echo 0s) + $DURATION measured."
	echo "Server side ($SHARDS engine(s) + proxy) on core 0, rpcbench on core 1; medians of the runs; a shared machine: compare ratios (load average at the start: $(cut -d' ' -f1-3 /proc/loadavg))."
	echo
	if ((RATE > 0)); then
		echo "CPU per request from /proc/PID/stat (user + system); latencies count from each request's due time (rpcbench -rate)."
		echo
		if [[ $RELAY == 1 ]]; then
			echo "$RELAY_NOTE"
			echo
			echo "| case | n | ops/s $A_NAME / relay / $B_NAME | CPU µs/req: engine, direct | relay | engine behind the relay | proxy | engines behind the proxy | **relay / direct engine** | **proxy / direct engine** | p50 µs $A_NAME / relay / $B_NAME | p99 µs $A_NAME / relay / $B_NAME | errors $A_NAME / relay / $B_NAME |"
			echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
		else
			echo "| case | n | ops/s $A_NAME / $B_NAME | CPU µs/req: engine, direct | CPU µs/req: proxy | CPU µs/req: engines behind it | **proxy / direct engine** | **all / direct** | p50 µs $A_NAME / $B_NAME | p99 µs $A_NAME / $B_NAME | errors $A_NAME / $B_NAME |"
			echo "|---|---|---|---|---|---|---|---|---|---|---|"
		fi
	elif [[ $RELAY == 1 ]]; then
		echo "$RELAY_NOTE"
		echo
		echo "| case | n | $A_NAME ops/s | relay ops/s | $B_NAME ops/s | **relay/$A_NAME** | **$B_NAME/$A_NAME** | run pairs min-max | p50 µs $A_NAME / relay / $B_NAME | p99 µs $A_NAME / relay / $B_NAME | core µs/op added: relay, $B_NAME | errors $A_NAME / relay / $B_NAME |"
		echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
	else
		echo "| case | n | $A_NAME ops/s | $B_NAME ops/s | **$B_NAME/$A_NAME** | run pairs min-max | p50 µs $A_NAME / $B_NAME (added) | p99 µs $A_NAME / $B_NAME (added) | core µs/op added | errors $A_NAME / $B_NAME |"
		echo "|---|---|---|---|---|---|---|---|---|---|"
	fi
} >"$TABLE.tmp"
n=0
for c in "${CASES[@]}"; do
	name=${c%%|*}
	read -r -a flags <<<"${c#*|}"
	n=$((n + 1))
	echo "== case $n: $name"
	for r in $(seq "$RUNS"); do
		bench "c$n-$A_NAME-$r" "$A_ADDR" "${flags[@]}" "${A_FLAGS[@]}"
		[[ $RELAY == 1 ]] && bench "c$n-relay-$r" "$RELAY_ADDR" "${flags[@]}"
		bench "c$n-$B_NAME-$r" "$B_ADDR" "${flags[@]}" "${B_FLAGS[@]}"
	done
	stat() { for f in "$OUT"/c$n-"$1"-*.json; do field "$2" "$f"; done | median; }
	sum() { for f in "$OUT"/c$n-"$1"-*.json; do field errors "$f"; done | awk '{s+=$1} END {print s+0}'; }
	dops=$(stat "$A_NAME" ops_per_s) pops=$(stat "$B_NAME" ops_per_s)
	d50=$(stat "$A_NAME" p50) p50=$(stat "$B_NAME" p50) d99=$(stat "$A_NAME" p99) p99=$(stat "$B_NAME" p99)
	# The ratio of each pair of runs made back to back: the machine's
	# speed drifts, and its range shows how far one figure can be trusted.
	pairs=$(for r in $(seq "$RUNS"); do
		echo "$(field ops_per_s "$OUT/c$n-$B_NAME-$r.json") $(field ops_per_s "$OUT/c$n-$A_NAME-$r.json")"
	done | awk '{printf "%.4f\n", $1 / $2}' | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.2f-%.2f", lo, hi}')
	if ((RATE > 0)); then
		cpu() { for f in "$OUT"/c$n-"$1"-*.cpu; do cut -d' ' -f"$2" "$f"; done | median; }
		if [[ $RELAY == 1 ]]; then
			awk -v name="$name" -v n="$RUNS" -v dops="$dops" -v rops="$(stat relay ops_per_s)" -v pops="$pops" \
				-v d50="$d50" -v r50="$(stat relay p50)" -v p50="$p50" -v d99="$d99" -v r99="$(stat relay p99)" -v p99="$p99" \
				-v de="$(cpu "$A_NAME" 2)" -v rr="$(cpu relay 3)" -v re="$(cpu relay 2)" -v pp="$(cpu "$B_NAME" 1)" -v pe="$(cpu "$B_NAME" 2)" \
				-v derr="$(sum "$A_NAME")" -v rerr="$(sum relay)" -v perr="$(sum "$B_NAME")" \
				'BEGIN { printf "| %s | %d | %.0f / %.0f / %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | **%.2f** | **%.2f** | %.1f / %.1f / %.1f | %.1f / %.1f / %.1f | %d / %d / %d |\n",
					name, n, dops, rops, pops, de, rr, re, pp, pe, rr / de, pp / de, d50, r50, p50, d99, r99, p99, derr, rerr, perr }' >>"$TABLE.tmp"
			continue
		fi
		awk -v name="$name" -v n="$RUNS" -v dops="$dops" -v pops="$pops" -v d50="$d50" -v p50="$p50" -v d99="$d99" -v p99="$p99" \
			-v de="$(cpu "$A_NAME" 2)" -v pp="$(cpu "$B_NAME" 1)" -v pe="$(cpu "$B_NAME" 2)" -v derr="$(sum "$A_NAME")" -v perr="$(sum "$B_NAME")" \
			'BEGIN { printf "| %s | %d | %.0f / %.0f | %.2f | %.2f | %.2f | **%.2f** | **%.2f** | %.1f / %.1f | %.1f / %.1f | %d / %d |\n",
				name, n, dops, pops, de, pp, pe, pp / de, (pp + pe) / de, d50, p50, d99, p99, derr, perr }' >>"$TABLE.tmp"
		continue
	fi
	if [[ $RELAY == 1 ]]; then
		awk -v name="$name" -v n="$RUNS" -v dops="$dops" -v rops="$(stat relay ops_per_s)" -v pops="$pops" -v pairs="$pairs" \
			-v d50="$d50" -v r50="$(stat relay p50)" -v p50="$p50" -v d99="$d99" -v r99="$(stat relay p99)" -v p99="$p99" \
			-v de="$(sum "$A_NAME")" -v re="$(sum relay)" -v pe="$(sum "$B_NAME")" "$COMMAS"'
			BEGIN { printf "| %s | %d | %s | %s | %s | **%.2f** | **%.2f** | %s | %.1f / %.1f / %.1f | %.1f / %.1f / %.1f | %.2f, %.2f | %d / %d / %d |\n",
				name, n, c(dops), c(rops), c(pops), rops / dops, pops / dops, pairs, d50, r50, p50, d99, r99, p99,
				1e6 / rops - 1e6 / dops, 1e6 / pops - 1e6 / dops, de, re, pe }' >>"$TABLE.tmp"
		continue
	fi
	awk -v name="$name" -v n="$RUNS" -v dops="$dops" -v pops="$pops" -v d50="$d50" -v p50="$p50" -v pairs="$pairs" \
		-v d99="$d99" -v p99="$p99" -v de="$(sum "$A_NAME")" -v pe="$(sum "$B_NAME")" "$COMMAS"'
		BEGIN { printf "| %s | %d | %s | %s | **%.2f** | %s | %.1f / %.1f (%+.1f) | %.1f / %.1f (%+.1f) | %.2f | %d / %d |\n",
			name, n, c(dops), c(pops), pops / dops, pairs, d50, p50, p50 - d50, d99, p99, p99 - d99, 1e6 / pops - 1e6 / dops, de, pe }' >>"$TABLE.tmp"
done
mv "$TABLE.tmp" "$TABLE"
echo
cat "$TABLE"
echo
echo "bench-proxy: table saved to $TABLE; raw reports in $OUT/"
