#!/usr/bin/env bash
# Benchmarks the services' rails on this machine and records the results in
# docs/benchmarks.md: the outbox's latency from the order's insert to the broker's ack at a
# stated rate (every CreateOrder writes one OrderCreated outbox row), CreateOrder requests/s
# over direct gRPC (closed loop), and each service's idle memory.
#
# BENCH_RATE (500 orders/s), BENCH_SECONDS (20), BENCH_CONCURRENCY (16). Release builds; all
# processes share the machine's 2 cores with PostgreSQL and the broker.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

RATE="${BENCH_RATE:-500}"
SECONDS_PER_RUN="${BENCH_SECONDS:-20}"
CONCURRENCY="${BENCH_CONCURRENCY:-16}"
RELEASE="${CARGO_TARGET_DIR:-$ROOT/target}/release"
RESULTS="$RUN_DIR/bench-services.jsonl"

ensure_infrastructure

step "Release build of the services and the load tools"
cargo build --release --locked --bins >"$LOG_DIR/bench-build.log" 2>&1 || fail "cargo build --release" "$LOG_DIR/bench-build.log"

# The processes this script starts keep their logs and pids apart from up.sh's.
LOG_DIR="$RUN_DIR/bench/logs"
PID_DIR="$RUN_DIR/bench/pids"
mkdir -p "$LOG_DIR" "$PID_DIR"
trap 'for name in order user product registry; do stop_process "$name" >/dev/null; done' EXIT
for name in order user product registry; do stop_process "$name" >/dev/null; done

step "Fresh databases and release processes (registry :18091, order :18151, product :18152, user :18153)"
for db in registry orders products users; do
  PGPASSWORD="$PG_PASSWORD" dropdb -h "$PG_HOST" -p "$PG_PORT" -U postgres --if-exists "sagaway_bench_$db"
  PGPASSWORD="$PG_PASSWORD" createdb -h "$PG_HOST" -p "$PG_PORT" -U postgres "sagaway_bench_$db"
done
export RUST_LOG=warn SAGAWAY_SCHEMA_REGISTRY_URL=http://127.0.0.1:18091
start_process registry "$RELEASE" http://127.0.0.1:18091/health/ready \
  SAGAWAY_HTTP_ADDR=127.0.0.1:18091 SAGAWAY_DATABASE_URL="$PG_URL/sagaway_bench_registry"
"$RELEASE/contracts" register --registry http://127.0.0.1:18091 >"$LOG_DIR/register.log" 2>&1 || fail "contracts register" "$LOG_DIR/register.log"
start_process product "$RELEASE" http://127.0.0.1:19152/health/ready SAGAWAY_GRPC_ADDR=127.0.0.1:18152 \
  SAGAWAY_DATABASE_URL="$PG_URL/sagaway_bench_products" SAGAWAY_SEED_DEMO_CATALOG=true
start_process user "$RELEASE" http://127.0.0.1:19153/health/ready SAGAWAY_GRPC_ADDR=127.0.0.1:18153 \
  SAGAWAY_DATABASE_URL="$PG_URL/sagaway_bench_users"
start_process order "$RELEASE" http://127.0.0.1:19151/health/ready SAGAWAY_GRPC_ADDR=127.0.0.1:18151 \
  SAGAWAY_DATABASE_URL="$PG_URL/sagaway_bench_orders" SAGAWAY_PRODUCT_URL=http://127.0.0.1:18152

: >"$RESULTS"
step "Idle memory (VmRSS after start-up, before any load)"
sleep 3
for name in registry order product user; do
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$(cat "$PID_DIR/$name.pid")/status")
  info "$name: $((rss / 1024)) MiB"
  echo "{\"scenario\":\"idle memory\",\"process\":\"$name\",\"rss_kib\":$rss}" >>"$RESULTS"
done

bench() {
  local name=$1
  shift
  info "$name"
  local line
  line=$("$RELEASE/sagaway-grpc-bench" --order http://127.0.0.1:18151 --product http://127.0.0.1:18152 "$@") || fail "load ($name)"
  echo "{\"scenario\":\"$name\",${line#\{}" | tee -a "$RESULTS" | sed 's/^/      /'
}

step "CreateOrder at $RATE/s for $SECONDS_PER_RUN s (open loop); outbox latency from the order service's metrics"
bench "CreateOrder at a fixed rate" --rate "$RATE" --duration "$SECONDS_PER_RUN"
sleep 2
metrics=$(curl -fsS http://127.0.0.1:19151/metrics)
published=$(awk '/^sagaway_outbox_published_total/ {sum += $2} END {print sum + 0}' <<<"$metrics")
quantile() { awk -v q="$1" '/^sagaway_outbox_latency_seconds\{/ && $0 ~ "quantile=\""q"\"" {print $2; exit}' <<<"$metrics"; }
p50=$(quantile 0.5); p99=$(quantile 0.99); max=$(quantile 1)
info "outbox: $published published; p50 ${p50}s p99 ${p99}s max ${max}s (insert to broker ack)"
echo "{\"scenario\":\"outbox latency\",\"rate\":$RATE,\"published\":$published,\"p50_s\":${p50:-null},\"p99_s\":${p99:-null},\"max_s\":${max:-null}}" >>"$RESULTS"

step "CreateOrder throughput ($CONCURRENCY clients, closed loop, 10 s)"
bench "CreateOrder closed loop" --concurrency "$CONCURRENCY" --duration 10

step "Recording in docs/benchmarks.md"
"$VENV/bin/python" "$ROOT/scripts/bench_report.py" services "$RESULTS" "$ROOT/docs/benchmarks.md" 2>/dev/null \
  || python3 "$ROOT/scripts/bench_report.py" services "$RESULTS" "$ROOT/docs/benchmarks.md"
info "done: see docs/benchmarks.md"
