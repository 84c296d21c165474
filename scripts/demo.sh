#!/usr/bin/env bash
# demo.sh is `make run`: it starts 4 memcache engines, 4 events engines and
# the proxy on loopback (configs/demo.toml), walks through a short session
# with rpccall (sets and gets, where each key lives, events spread over
# shards, an engine that hangs and comes back), then keeps everything
# serving until Ctrl-C.
#
#   scripts/demo.sh            # after `make build`; BIN=dir to use other binaries
#   DEMO_HOLD=0 scripts/demo.sh  # exit after the session (the default when
#                                # stdin or stdout is not a terminal)
#
# Every process it starts is stopped on exit, whatever happens (trap EXIT).
# Only bash, coreutils and the binaries in bin/ are needed (no curl).
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
CONFIG=configs/demo.toml
SCHEMA=engines/memcache/memcache.tl,engines/events/events.tl
PROXY=127.0.0.1:9300
ADMIN_PORT=9301
ENGINE_PORTS=(9311 9312 9313 9314)
EVENTS_PORTS=(9321 9322 9323 9324)
RUN=.run/demo
if [[ -z ${DEMO_HOLD:-} ]]; then
	if [[ -t 0 && -t 1 ]]; then DEMO_HOLD=1; else DEMO_HOLD=0; fi
fi

declare -A PIDS=() # name -> pid of every process started here

section() { printf '\n== %s\n' "$*"; }
die() {
	printf 'demo: %s\n' "$*" >&2
	exit 1
}

cleanup() {
	local rc=$? name pid
	trap - EXIT INT TERM
	for name in "${!PIDS[@]}"; do
		pid=${PIDS[$name]}
		kill -CONT "$pid" 2>/dev/null || true # a stopped process cannot exit
		kill -TERM "$pid" 2>/dev/null || true
	done
	for name in "${!PIDS[@]}"; do
		pid=${PIDS[$name]}
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if ((${#PIDS[@]} > 0)); then echo "demo: stopped ${#PIDS[@]} processes; logs in $RUN/"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# listening reports whether something accepts TCP connections on port $1.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# admin_get prints the response to GET $1 from the proxy's admin port
# (bash's /dev/tcp, bounded: no curl needed).
admin_get() {
	timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$ADMIN_PORT &&
		printf 'GET $1 HTTP/1.0\r\n\r\n' >&3 && cat <&3" 2>/dev/null
}

# ready reports whether the proxy is healthy and connected to all 8
# engines: it dials them after it starts listening, and until a
# connection is up requests for that engine fail fast (NO_CONNECTIONS).
ready() {
	admin_get /healthz | grep -q '^ok' &&
		(($(admin_get /stats | grep -c '"connected": *true') == ${#ENGINE_PORTS[@]} + ${#EVENTS_PORTS[@]}))
}

# wait_for runs "$2..." every 100ms until it succeeds, for at most $1 tenths
# of a second; it fails early if process $PID_CHECK has exited.
wait_for() {
	local tenths=$1
	shift
	for _ in $(seq "$tenths"); do
		if "$@"; then return 0; fi
		if [[ -n ${PID_CHECK:-} ]] && ! kill -0 "$PID_CHECK" 2>/dev/null; then return 1; fi
		sleep 0.1
	done
	return 1
}

# now_ms is the wall clock in milliseconds.
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# call runs rpccall through the proxy (extra flags before the function),
# printing the command, its output and how long it took.
call() {
	local start rc out
	start=$(now_ms)
	set +e
	out=$("$BIN/rpccall" -schema "$SCHEMA" -compact "$@" 2>&1)
	rc=$?
	set -e
	printf '  $ rpccall%s\n    -> %s  (exit %d, %d ms)\n' "$(quote "$@")" "$out" "$rc" $(($(now_ms) - start))
	return "$rc"
}

# quietly runs "$@" and shows its output only if it fails.
quietly() {
	local out
	if ! out=$("$@"); then
		printf '%s\n' "$out"
		die "that call should have worked; logs in $RUN/"
	fi
}

# quote prints its arguments as a shell would need them, JSON in '...'.
quote() {
	local a
	for a in "$@"; do
		if [[ $a == *[{\ ]* ]]; then printf " '%s'" "$a"; else printf ' %s' "$a"; fi
	done
}

# shard_of prints "INDEX ENGINE" for key $1 in cluster $2 (default
# memcache), with rpcproxy route.
shard_of() { "$BIN/rpcproxy" route -config "$CONFIG" -cluster "${2:-memcache}" "$1" | awk -F'\t' '{print $2, $3}'; }

start_engine() {
	local port=$1 kind=${2:-memcache}
	: >"$RUN/engine-$port.out" # before the start: a stale address must not look like this one's
	"$BIN/engine" -kind "$kind" -listen "127.0.0.1:$port" -shutdown-timeout 2s \
		>"$RUN/engine-$port.out" 2>"$RUN/engine-$port.log" &
	PIDS[engine-$port]=$!
	PID_CHECK=$! wait_for 100 test -s "$RUN/engine-$port.out" ||
		die "engine on 127.0.0.1:$port did not start; its log ($RUN/engine-$port.log):$(printf '\n')$(tail -5 "$RUN/engine-$port.log")"
}

for b in engine rpcproxy rpccall; do
	[[ -x $BIN/$b ]] || die "$BIN/$b is missing: run 'make build' first (or 'make run')"
done
for port in 9300 "$ADMIN_PORT" "${ENGINE_PORTS[@]}" "${EVENTS_PORTS[@]}"; do
	if listening "$port"; then
		die "port $port on 127.0.0.1 is already in use (an earlier demo still running? see: ss -ltnp 'sport = :$port'); the demo needs 9300, 9301, 9311-9314 and 9321-9324"
	fi
done
mkdir -p "$RUN"

section "Starting 4 memcache engines, 4 events engines and the proxy (logs in $RUN/)"
for port in "${ENGINE_PORTS[@]}"; do
	start_engine "$port"
done
for port in "${EVENTS_PORTS[@]}"; do
	start_engine "$port" events
done
echo "  engines  memcache on 127.0.0.1:9311-9314, events on 127.0.0.1:9321-9324"
"$BIN/rpcproxy" serve -config "$CONFIG" >"$RUN/proxy.out" 2>"$RUN/proxy.log" &
PIDS[proxy]=$!
if ! PID_CHECK=$! wait_for 100 ready; then
	echo "demo: the proxy did not become ready (healthy, connected to every engine); its log ($RUN/proxy.log):" >&2
	tail -n 10 "$RUN/proxy.log" >&2
	exit 1
fi
echo "  rpcproxy on $PROXY, admin http://127.0.0.1:$ADMIN_PORT  (pid ${PIDS[proxy]}, config $CONFIG)"

section "Sets and gets through the proxy; 'rpcproxy route' shows each key's shard"
KEYS=(user:1 user:4 user:6 user:8 photo:3)
for key in "${KEYS[@]}"; do
	read -r idx engine < <(shard_of "$key")
	echo "  $key -> shard $idx ($engine)"
	quietly call memcache.set "{\"key\":\"$key\",\"flags\":0,\"delay\":0,\"value\":\"value of $key\"}"
done
for key in "${KEYS[@]}"; do call memcache.get "{\"key\":\"$key\"}"; done
read -r idx VICTIM < <(shard_of user:1)
echo "  The value really is on $VICTIM (shard $idx): asking that engine directly:"
call -addr "$VICTIM" memcache.get '{"key":"user:1"}'
echo "  One memcache.getMulti for keys on all four shards (and one missing key): the proxy"
echo "  splits it by shard, asks the four engines in parallel and answers in the keys' order:"
MULTI='{"keys":["user:1","user:4","nope","user:6","user:8"]}'
call memcache.getMulti "$MULTI"
echo "  With hash_tag = \"{}\" only the {part} of a key is placed, so keys that share a tag"
echo "  share a shard, and a getMulti of them is one request to one engine:"
for key in 'user:{7}:photos' 'user:{7}:likes' 'user:{7}:friends'; do
	read -r idx engine < <(shard_of "$key")
	echo "  $key -> shard $idx ($engine)"
	quietly call memcache.set "{\"key\":\"$key\",\"flags\":0,\"delay\":0,\"value\":\"value of $key\"}"
done
call memcache.getMulti '{"keys":["user:{7}:photos","user:{7}:likes","user:{7}:friends"]}'

section "Events: each events.add goes to the shard of its key"
EV=(alice:30:login bob:10:login carol:50:logout dave:20:login erin:40:login)
for e in "${EV[@]}"; do
	IFS=: read -r key ts text <<<"$e"
	read -r idx engine < <(shard_of "$key" events)
	echo "  $key -> shard $idx ($engine)"
	quietly call events.add "{\"key\":\"$key\",\"ts\":$ts,\"text\":\"$text\"}"
done
echo "  events.count '{\"query\":\"login\"}' asked of each engine directly:"
for port in "${EVENTS_PORTS[@]}"; do
	printf '    127.0.0.1:%s -> %s\n' "$port" "$("$BIN/rpccall" -schema "$SCHEMA" -compact -addr "127.0.0.1:$port" events.count '{"query":"login"}' 2>&1)"
done

echo "  Through the proxy, events.count is sent to every shard and summed:"
call events.count '{"query":"login"}'
echo "  and events.search is merged newest first across shards, cut at its limit:"
call events.search '{"query":"log","limit":3}'

section "Fail fast: engine $VICTIM hangs (SIGSTOP)"
OTHER=""
for key in "${KEYS[@]}"; do
	read -r _ e < <(shard_of "$key")
	if [[ $e != "$VICTIM" ]]; then OTHER=$key; break; fi
done
kill -STOP "${PIDS[engine-${VICTIM##*:}]}"
sleep 0.1 # let the stop take effect before the first request
echo "  Gets for user:1 wait out their timeout (500ms) and get the proxy's QUERY_TIMEOUT naming"
echo "  the engine, until 2 timeouts in a row mark it down; then they fail at once with NO_CONNECTIONS:"
for _ in 1 2 3 4; do call -timeout 500ms memcache.get '{"key":"user:1"}' || true; done
echo "  Other shards are not affected ($OTHER is on another engine):"
call memcache.get "{\"key\":\"$OTHER\"}" || true
echo "  A getMulti still answers: the down shard's keys come back not_found, and the result"
echo "  extra says one sub-request failed (asked for with return_failed_subqueries):"
out=$("$BIN/rpccall" -schema "$SCHEMA" -compact -v -extra '{"return_failed_subqueries":true}' memcache.getMulti "$MULTI" 2>&1 | grep -v '^# [cqe]' || true)
echo "  \$ rpccall -v -extra '{\"return_failed_subqueries\":true}' memcache.getMulti '$MULTI'"
printf '    -> %s\n' "$out" | sed '2,$s/^/       /'
grep -h 'engine down' "$RUN/proxy.log" | tail -1 | sed 's/^/  proxy log: /' || true
n=$(admin_get /slow | grep -c '"latency_ms"' || true)
echo "  The gets that waited out their timeout were slow requests (slow_request = 100ms): the"
echo "  admin's /slow lists $n with cluster, function, shard, engine and error, and the log says:"
grep -h 'slow request' "$RUN/proxy.log" | head -1 | sed 's/^/  proxy log: /' || true

section "Recovery: engine $VICTIM resumes (SIGCONT)"
kill -CONT "${PIDS[engine-${VICTIM##*:}]}"
start=$(now_ms)
back() { "$BIN/rpccall" -schema "$SCHEMA" -timeout 300ms memcache.get '{"key":"user:1"}' >/dev/null 2>&1; }
if wait_for 100 back; then
	echo "  a probe saw it answer: user:1 was served again $(($(now_ms) - start)) ms after SIGCONT"
	call memcache.get '{"key":"user:1"}'
else
	echo "  demo: $VICTIM did not come back within 10s; see $RUN/proxy.log" >&2
	exit 1
fi

section "Try it yourself"
MC=engines/memcache/memcache.tl
echo "  $BIN/rpccall -schema $MC memcache.set '{\"key\":\"hello\",\"flags\":0,\"delay\":0,\"value\":\"world\"}'"
echo "  $BIN/rpccall -schema $MC memcache.get '{\"key\":\"hello\"}'"
echo "  $BIN/rpccall -schema $MC memcache.getMulti '{\"keys\":[\"hello\",\"user:1\",\"user:4\"]}'"
echo "  $BIN/rpccall -schema engines/events/events.tl events.search '{\"query\":\"login\",\"limit\":10}'"
echo "  $BIN/rpcproxy route -config $CONFIG -cluster memcache hello"
echo "  http://127.0.0.1:$ADMIN_PORT/stats (JSON), /metrics (Prometheus), /slow (slow requests); proxy log: $RUN/proxy.log"

if [[ $DEMO_HOLD == 0 ]]; then
	echo
	echo "demo: done (DEMO_HOLD=0 or no terminal); stopping everything."
	exit 0
fi
echo
echo "Serving until Ctrl-C."
while :; do
	for name in "${!PIDS[@]}"; do
		if ! kill -0 "${PIDS[$name]}" 2>/dev/null; then
			die "$name exited unexpectedly; see $RUN/"
		fi
	done
	sleep 1
done
