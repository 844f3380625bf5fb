#!/usr/bin/env bash
# Benchmarks the gateway on this machine and records the results in docs/benchmarks.md: an
# authenticated `GET /v1/products/{id}` through the gateway (HTTP/1.1 keep-alive) against the
# same GetProduct made directly over gRPC (sagaway-grpc-bench --get-product), twice:
#
# - closed loop, the same concurrency on both paths: the throughput ceiling of each (the
#   gateway driven by wrk, installed from Debian's packages when missing, and by our own
#   sagaway-loadgen, to show whether the client's own cost on the shared cores moves it);
# - open loop at the same fixed rate on both paths, below both ceilings: the latency the
#   gateway adds when neither path is queueing (sagaway-loadgen --rate, sagaway-grpc-bench
#   --rate; latency from each request's scheduled start).
#
# Each run also records CPU per request by process (utime+stime from /proc/PID/stat): the
# gateway, the product service, Redis, PostgreSQL (all its processes), and the machine as a
# whole (busy time from /proc/stat), whose remainder is the load generator and the kernel's
# network work.
#
# The whole set runs BENCH_ROUNDS times, the two paths alternating, and the report takes the
# median of each figure over the rounds (and shows every round's verdict): on a shared virtual
# machine one run can lose a third of its CPU to the hypervisor, so each run also records the
# machine's steal time.
#
# BENCH_SECONDS (10), BENCH_WARMUP (2), BENCH_CONCURRENCY (16), BENCH_RATE (1000 requests/s),
# BENCH_ROUNDS (3). Release builds; every process, PostgreSQL, Redis and the broker share the
# machine's cores, unpinned.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

SECONDS_PER_RUN="${BENCH_SECONDS:-10}"
WARMUP="${BENCH_WARMUP:-2}"
CONCURRENCY="${BENCH_CONCURRENCY:-16}"
RATE="${BENCH_RATE:-1000}"
ROUNDS="${BENCH_ROUNDS:-3}"
RELEASE="${CARGO_TARGET_DIR:-$ROOT/target}/release"
RESULTS="$RUN_DIR/bench-gateway.jsonl"
GATEWAY=http://127.0.0.1:18280
ADMIN_EMAIL=bench-admin@sagaway.local
ADMIN_PASSWORD=bench-admin-password

ensure_infrastructure

step "Release build of the services, the gateway and the load tools"
cargo build --release --locked -p sagaway-registry -p sagaway-contracts -p sagaway-product \
  -p sagaway-user -p sagaway-gateway -p sagaway-e2e --bins >"$LOG_DIR/bench-gateway-build.log" 2>&1 \
  || fail "cargo build --release" "$LOG_DIR/bench-gateway-build.log"

# The processes this script starts keep their logs and pids apart from up.sh's.
LOG_DIR="$RUN_DIR/bench-gateway/logs"
PID_DIR="$RUN_DIR/bench-gateway/pids"
mkdir -p "$LOG_DIR" "$PID_DIR"
NAMES=(gateway user product registry)
trap 'for name in "${NAMES[@]}"; do stop_process "$name" >/dev/null; done' EXIT
for name in "${NAMES[@]}"; do stop_process "$name" >/dev/null; done

step "Fresh databases and release processes (registry :18291, product :18252, user :18253, gateway :18280)"
for db in registry products users; do
  PGPASSWORD="$PG_PASSWORD" dropdb -h "$PG_HOST" -p "$PG_PORT" -U postgres --if-exists "sagaway_gwbench_$db"
  PGPASSWORD="$PG_PASSWORD" createdb -h "$PG_HOST" -p "$PG_PORT" -U postgres "sagaway_gwbench_$db"
done
export RUST_LOG=warn SAGAWAY_SCHEMA_REGISTRY_URL=http://127.0.0.1:18291
start_process registry "$RELEASE" http://127.0.0.1:18291/health/ready \
  SAGAWAY_HTTP_ADDR=127.0.0.1:18291 SAGAWAY_DATABASE_URL="$PG_URL/sagaway_gwbench_registry"
"$RELEASE/contracts" register --registry http://127.0.0.1:18291 >"$LOG_DIR/register.log" 2>&1 || fail "contracts register" "$LOG_DIR/register.log"
# The saga's consumers stay off: their empty fetches (every SAGAWAY_KAFKA_FETCH_WAIT_MS) keep
# the broker busy on the cores this benchmark measures.
start_process product "$RELEASE" http://127.0.0.1:19252/health/ready SAGAWAY_GRPC_ADDR=127.0.0.1:18252 \
  SAGAWAY_DATABASE_URL="$PG_URL/sagaway_gwbench_products" SAGAWAY_SEED_DEMO_CATALOG=true \
  SAGAWAY_PRODUCT_SAGA=false
start_process user "$RELEASE" http://127.0.0.1:19253/health/ready SAGAWAY_GRPC_ADDR=127.0.0.1:18253 \
  SAGAWAY_DATABASE_URL="$PG_URL/sagaway_gwbench_users" \
  SAGAWAY_ADMIN_EMAIL="$ADMIN_EMAIL" SAGAWAY_ADMIN_PASSWORD="$ADMIN_PASSWORD" SAGAWAY_USER_SAGA=false
# Rate limits stay on (their Redis counters are part of every request's cost) but high enough
# never to refuse the benchmark; the order service is not started (readiness is not awaited).
SAGAWAY_HTTP_ADDR=127.0.0.1:18280 SAGAWAY_REDIS_URL="redis://127.0.0.1:$REDIS_PORT" \
  SAGAWAY_PRODUCT_URL=http://127.0.0.1:18252 SAGAWAY_USER_URL=http://127.0.0.1:18253 \
  SAGAWAY_ORDER_URL=http://127.0.0.1:18251 SAGAWAY_JWT_TTL_SECS=3600 \
  SAGAWAY_RATE_LIMIT_PER_IP=1000000000 SAGAWAY_RATE_LIMIT_PER_USER=1000000000 \
  SAGAWAY_RATE_LIMIT_NAMESPACE="gwbench-$$" \
  nohup "$RELEASE/sagaway-gateway" >>"$LOG_DIR/gateway.log" 2>&1 </dev/null &
echo $! >"$PID_DIR/gateway.pid"
wait_for 60 gateway curl -fsS "$GATEWAY/health/live" || fail "starting the gateway" "$LOG_DIR/gateway.log"

step "Logging in through the gateway as the admin; picking a catalogue product"
TOKEN=$(curl -fsS -X POST "$GATEWAY/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PASSWORD\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])') \
  || fail "login through the gateway" "$LOG_DIR/gateway.log"
PRODUCT_ID=$(curl -fsS "$GATEWAY/v1/products?page_size=1" -H "authorization: Bearer $TOKEN" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["products"][0]["productId"])') \
  || fail "listing products through the gateway" "$LOG_DIR/gateway.log"
info "product $PRODUCT_ID"

TICKS=$(getconf CLK_TCK)
pid_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
cpu_ticks() { pid_ticks "$(cat "$PID_DIR/$1.pid")"; }
redis_ticks() { pid_ticks "$(pgrep -o -x redis-server)"; }
postgres_ticks() {
  local total=0 pid
  for pid in $(pgrep -u postgres); do total=$((total + $(pid_ticks "$pid"))); done
  echo "$total"
}
# The machine's time so far, in ticks summed over its cores: elapsed, idle (with iowait), and
# stolen by the hypervisor. The user and system columns of /proc/stat are sampled on the timer
# tick, which a tickless idle kernel stops, so at light load they miss most of the work (an
# open-loop run showed a tenth of it); idle and steal are kept exactly, so the machine's busy
# time is what elapsed time leaves once they are taken out.
machine_clock() {
  awk -v now="$(date +%s%N)" -v hz="$TICKS" -v cores="$(nproc)" \
    '/^cpu /{printf "%.0f %d %d\n", now / 1e9 * hz * cores, $5 + $6, $9}' /proc/stat
}
busy_ticks() { echo $(($4 - $1 - ($5 - $2) - ($6 - $3))); }
steal_percent() { echo $(($4 > $1 ? ($6 - $3) * 100 / ($4 - $1) : 0)); }
seconds_of() { echo "$(($1 * 1000 / TICKS))e-3"; }

# Runs one load ($2...) as part of round $ROUND, recording requests/s, latency, the CPU seconds
# of each process over the whole run (warm-up included, so CPU is divided by requests/s times
# the whole run's length) and the machine's steal time.
bench() {
  local name=$1
  shift
  info "$name (round $ROUND of $ROUNDS)"
  local before after line
  before="$(cpu_ticks gateway) $(cpu_ticks product) $(redis_ticks) $(postgres_ticks) $(machine_clock)"
  line=$("$@") || fail "load ($name)"
  after="$(cpu_ticks gateway) $(cpu_ticks product) $(redis_ticks) $(postgres_ticks) $(machine_clock)"
  read -r g0 p0 r0 q0 e0 i0 s0 <<<"$before"
  read -r g1 p1 r1 q1 e1 i1 s1 <<<"$after"
  echo "{\"scenario\":\"$name\",\"round\":$ROUND,\"steal_percent\":$(steal_percent $e0 $i0 $s0 $e1 $i1 $s1),\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"gateway_cpu_s\":$(seconds_of $((g1 - g0))),\"product_cpu_s\":$(seconds_of $((p1 - p0))),\"redis_cpu_s\":$(seconds_of $((r1 - r0))),\"postgres_cpu_s\":$(seconds_of $((q1 - q0))),\"machine_cpu_s\":$(seconds_of "$(busy_ticks $e0 $i0 $s0 $e1 $i1 $s1)"),${line#\{}" \
    | tee -a "$RESULTS" | sed 's/^/      /'
}

# wrk_load URL HEADER: a warm-up, then the measured run, with one wrk thread and $CONCURRENCY
# connections; prints the same JSON fields as sagaway-loadgen.
wrk_load() {
  wrk -t1 -c"$CONCURRENCY" -d"${WARMUP}s" -H "$2" "$1" >/dev/null
  wrk -t1 -c"$CONCURRENCY" -d"${SECONDS_PER_RUN}s" --latency -H "$2" "$1" | python3 -c '
import json, re, sys
text = sys.stdin.read()
def ms(value):
    number, unit = re.fullmatch(r"([0-9.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
dist = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)$", text, re.M))
requests = int(re.search(r"^\s+(\d+) requests in", text, re.M).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
print(json.dumps({
    "generator": "wrk",
    "mode": "closed loop",
    "concurrency": int(sys.argv[1]),
    "seconds": float(sys.argv[2]),
    "warmup": float(sys.argv[3]),
    "requests": requests,
    "errors": (int(errors.group(1)) if errors else 0) + (sum(map(int, socket.groups())) if socket else 0),
    "rps": float(re.search(r"Requests/sec:\s+([0-9.]+)", text).group(1)),
    "p50_ms": ms(dist["50"]), "p90_ms": ms(dist["90"]), "p99_ms": ms(dist["99"]),
    "max_ms": ms(re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", text).group(1)),
}))' "$CONCURRENCY" "$SECONDS_PER_RUN" "$WARMUP"
}

: >"$RESULTS"
# Anything else busy on the machine (a running system, another benchmark, a build) skews every
# figure below: measure it first and say so.
idle_before=$(machine_clock); sleep 2; idle_after=$(machine_clock)
idle_busy=$(( $(busy_ticks $idle_before $idle_after) * 100 / (2 * TICKS) ))
idle_steal=$(steal_percent $idle_before $idle_after)
info "machine busy before the runs: ${idle_busy}% of one core; steal ${idle_steal}%"
[ "$idle_busy" -le 10 ] || info "WARNING: something else is using the CPU; the figures will be low"
[ "$idle_steal" -le 5 ] || info "WARNING: the hypervisor is taking CPU from this machine; the figures will be low"
echo "{\"scenario\":\"idle\",\"busy_percent_of_a_core\":$idle_busy,\"steal_percent\":$idle_steal}" >>"$RESULTS"
for ROUND in $(seq "$ROUNDS"); do
  step "Round $ROUND of $ROUNDS: GET /v1/products/{id} through the gateway and GetProduct directly over gRPC, closed loop ($CONCURRENCY clients) then open loop ($RATE/s); $SECONDS_PER_RUN s after $WARMUP s each"
  bench "gateway" wrk_load "$GATEWAY/v1/products/$PRODUCT_ID" "authorization: Bearer $TOKEN"
  # The same with our own Rust client: more of the shared CPU goes to the load generator.
  bench "gateway (sagaway-loadgen)" "$RELEASE/sagaway-loadgen" --url "$GATEWAY/v1/products/$PRODUCT_ID" \
    --header "authorization: Bearer $TOKEN" --concurrency "$CONCURRENCY" \
    --duration "$SECONDS_PER_RUN" --warmup "$WARMUP"
  bench "direct gRPC" "$RELEASE/sagaway-grpc-bench" --product http://127.0.0.1:18252 \
    --get-product "$PRODUCT_ID" --concurrency "$CONCURRENCY" --duration "$SECONDS_PER_RUN" --warmup "$WARMUP"
  # Both paths at the same fixed rate, below both ceilings: the latency the gateway adds.
  bench "gateway, open loop" "$RELEASE/sagaway-loadgen" --url "$GATEWAY/v1/products/$PRODUCT_ID" \
    --header "authorization: Bearer $TOKEN" --rate "$RATE" \
    --duration "$SECONDS_PER_RUN" --warmup "$WARMUP"
  bench "direct gRPC, open loop" "$RELEASE/sagaway-grpc-bench" --product http://127.0.0.1:18252 \
    --get-product "$PRODUCT_ID" --rate "$RATE" --duration "$SECONDS_PER_RUN" --warmup "$WARMUP"
done

step "Recording in docs/benchmarks.md"
"$VENV/bin/python" "$ROOT/scripts/bench_report.py" gateway "$RESULTS" "$ROOT/docs/benchmarks.md" 2>/dev/null \
  || python3 "$ROOT/scripts/bench_report.py" gateway "$RESULTS" "$ROOT/docs/benchmarks.md"
info "done: see docs/benchmarks.md"
