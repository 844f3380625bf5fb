#!/usr/bin/env bash
# Benchmarks the order saga end to end on this machine and records the results in
# docs/benchmarks.md: orders placed over gRPC at fixed rates, the time from each order's
# creation to COMPLETED (order database timestamps), the rate at which orders reach their
# terminal state, the commits each order costs in the three databases, and, in the same run,
# PostgreSQL's own commit rate (pgbench) as the ceiling.
#
# BENCH_RATES ("25 50 100" orders/s), BENCH_SECONDS (30 per rate), BENCH_PGBENCH_SECONDS
# (15). Release builds, on a system of its own (fresh databases and broker log).

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$ROOT/scripts/system.sh"
cd "$ROOT"

RATES="${BENCH_RATES:-25 50 100}"
SECONDS_PER_RATE="${BENCH_SECONDS:-30}"
PGBENCH_SECONDS="${BENCH_PGBENCH_SECONDS:-15}"
PGBENCH_CLIENTS=8

ensure_infrastructure

step "Release build of the services and sagaway-saga"
cargo build --release --locked --bins >"$LOG_DIR/bench-saga-build.log" 2>&1 \
  || fail "cargo build --release" "$LOG_DIR/bench-saga-build.log"
RELEASE="${CARGO_TARGET_DIR:-$ROOT/target}/release"

system_init bench_saga 38000 "$RELEASE"
trap 'system_stop_all' EXIT
RESULTS="$SYSTEM_DIR/results.jsonl"
: >"$RESULTS"

step "PostgreSQL's commit rate: pgbench -N, $PGBENCH_CLIENTS clients, $PGBENCH_SECONDS s"
PGBENCH_DB=sagaway_bench_pgbench
PGPASSWORD="$PG_PASSWORD" dropdb -h "$PG_HOST" -p "$PG_PORT" -U postgres --if-exists "$PGBENCH_DB"
PGPASSWORD="$PG_PASSWORD" createdb -h "$PG_HOST" -p "$PG_PORT" -U postgres "$PGBENCH_DB"
PGPASSWORD="$PG_PASSWORD" pgbench -h "$PG_HOST" -p "$PG_PORT" -U postgres -i -s 10 -q "$PGBENCH_DB" \
  >"$LOG_DIR/pgbench.log" 2>&1 || fail "pgbench -i" "$LOG_DIR/pgbench.log"
PGPASSWORD="$PG_PASSWORD" pgbench -h "$PG_HOST" -p "$PG_PORT" -U postgres -N -c "$PGBENCH_CLIENTS" -j 2 \
  -T "$PGBENCH_SECONDS" "$PGBENCH_DB" >>"$LOG_DIR/pgbench.log" 2>&1 || fail "pgbench" "$LOG_DIR/pgbench.log"
tps=$(awk '/^tps = / {print $3; exit}' "$LOG_DIR/pgbench.log")
info "$tps commits/s"
echo "{\"kind\":\"pgbench\",\"tps\":$tps,\"clients\":$PGBENCH_CLIENTS,\"seconds\":$PGBENCH_SECONDS}" >>"$RESULTS"
PGPASSWORD="$PG_PASSWORD" dropdb -h "$PG_HOST" -p "$PG_PORT" -U postgres --if-exists "$PGBENCH_DB"

step "A system of its own (release): fresh databases, broker on :$SYSTEM_BROKER_PORT"
export RUST_LOG=warn
system_start_all

commits() {
  PGPASSWORD="$PG_PASSWORD" psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -Atqc \
    "SELECT sum(xact_commit) FROM pg_stat_database WHERE datname IN \
     ('sagaway_bench_saga_orders', 'sagaway_bench_saga_products', 'sagaway_bench_saga_users')"
}

# CPU seconds used so far by each process of the system: "broker=1.23 order=0.45 ...".
TICKS=$(getconf CLK_TCK)
cpu_seconds() {
  local name
  for name in broker order product user; do
    awk -v n="$name" -v t="$TICKS" '{printf "%s=%.2f ", n, ($14 + $15) / t}' "/proc/$(cat "$PID_DIR/$name.pid")/stat"
  done
}
# cpu_per_order BEFORE AFTER ORDERS: {"broker":ms,...} of CPU per order between two readings.
cpu_per_order() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
before = dict(kv.split("=") for kv in sys.argv[1].split())
after = dict(kv.split("=") for kv in sys.argv[2].split())
orders = max(int(sys.argv[3]), 1)
print(json.dumps({k: round((float(after[k]) - float(before[k])) * 1000 / orders, 2) for k in after}))
PY
}

seed=1
for rate in $RATES; do
  orders=$((rate * SECONDS_PER_RATE))
  step "$orders orders at $rate/s"
  sleep 2
  before=$(commits)
  cpu_before=$(cpu_seconds)
  line=$("$RELEASE/sagaway-saga" load --order "http://127.0.0.1:$SYSTEM_ORDER_PORT" \
    --product "http://127.0.0.1:$SYSTEM_PRODUCT_PORT" --user "http://127.0.0.1:$SYSTEM_USER_PORT" \
    --orders-db "$SYSTEM_ORDERS_DB" --shape ample --users 50 --products 50 --orders "$orders" \
    --rate "$rate" --concurrency 256 --seed "$seed" --wait 300 2>"$LOG_DIR/load-$rate.log") \
    || fail "the workload at $rate/s" "$LOG_DIR/load-$rate.log"
  sleep 2 # the statistics of the last transactions reach pg_stat_database
  after=$(commits)
  created=$(jq .orders_created <<<"$line")
  cpu=$(cpu_per_order "$cpu_before" "$(cpu_seconds)" "$created")
  info "CPU ms per order: $cpu"
  per_order=$(awk -v d="$((after - before))" -v n="$created" 'BEGIN {printf "%.2f", n ? d / n : 0}')
  jq -c '{offered_rate, orders_created, by_status, terminal_per_second, latency_ms, create_errors}' <<<"$line" | sed 's/^/    /'
  info "$((after - before)) commits: $per_order per order"
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  echo "{\"kind\":\"run\",\"rate\":$rate,\"load\":\"$load\",\"commits\":$((after - before)),\"commits_per_order\":$per_order,\"cpu_ms_per_order\":$cpu,\"result\":$line}" >>"$RESULTS"
  seed=$((seed + 1))
done

step "Recording in docs/benchmarks.md"
"$VENV/bin/python" "$ROOT/scripts/bench_report.py" saga "$RESULTS" "$ROOT/docs/benchmarks.md" 2>/dev/null \
  || python3 "$ROOT/scripts/bench_report.py" saga "$RESULTS" "$ROOT/docs/benchmarks.md"
