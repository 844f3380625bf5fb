#!/usr/bin/env bash
# Benchmarks the contract registry on this machine and records the results in
# docs/benchmarks.md: GET /schemas/ids/{id} (served from memory), registration of an existing
# schema and of new schemas, and an axum hello-world in the same run as the ceiling.
#
# The server runs pinned to CPU 0 and the load generator to CPU 1 (taskset), so both targets
# get the same single core and the generator does not steal it. Each scenario runs
# BENCH_SECONDS (default 10) after a 2 s warm-up at BENCH_CONCURRENCY (default 16) clients.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

SECONDS_PER_RUN="${BENCH_SECONDS:-10}"
CONCURRENCY="${BENCH_CONCURRENCY:-16}"
REGISTRY_PORT=18091
HELLO_PORT=18092
RELEASE="${CARGO_TARGET_DIR:-$ROOT/target}/release"
RESULTS="$RUN_DIR/bench-registry.jsonl"

ensure_packages
ensure_postgres
command -v taskset >/dev/null || apt_install util-linux

step "Release build of the registry and the load tools"
cargo build --release --locked -p sagaway-registry -p sagaway-e2e --bins >"$LOG_DIR/bench-build.log" 2>&1 \
  || fail "cargo build --release" "$LOG_DIR/bench-build.log"

step "Fresh database and servers (registry :$REGISTRY_PORT, hello-axum :$HELLO_PORT, both on CPU 0)"
PGPASSWORD="$PG_PASSWORD" dropdb -h "$PG_HOST" -p "$PG_PORT" -U postgres --if-exists sagaway_bench_registry
PGPASSWORD="$PG_PASSWORD" createdb -h "$PG_HOST" -p "$PG_PORT" -U postgres sagaway_bench_registry
SAGAWAY_HTTP_ADDR="127.0.0.1:$REGISTRY_PORT" SAGAWAY_DATABASE_URL="$PG_URL/sagaway_bench_registry" RUST_LOG=warn \
  taskset -c 0 "$RELEASE/sagaway-registry" >"$LOG_DIR/bench-registry.log" 2>&1 </dev/null &
REGISTRY_PID=$!
taskset -c 0 "$RELEASE/hello-axum" "127.0.0.1:$HELLO_PORT" >"$LOG_DIR/bench-hello.log" 2>&1 </dev/null &
HELLO_PID=$!
trap 'kill $REGISTRY_PID $HELLO_PID 2>/dev/null || true' EXIT
wait_for 30 "registry" curl -fsS "http://127.0.0.1:$REGISTRY_PORT/health/ready" || fail "starting the registry" "$LOG_DIR/bench-registry.log"
wait_for 30 "hello-axum" curl -fsS "http://127.0.0.1:$HELLO_PORT/" || fail "starting hello-axum" "$LOG_DIR/bench-hello.log"

SCHEMA='{\"type\":\"record\",\"name\":\"Bench\",\"namespace\":\"b\",\"fields\":[{\"name\":\"a\",\"type\":\"long\"}]}'
ID=$(curl -fsS -X POST -H 'content-type: application/vnd.schemaregistry.v1+json' \
  --data "{\"schema\":\"$SCHEMA\"}" "http://127.0.0.1:$REGISTRY_PORT/subjects/bench-existing/versions" | sed 's/[^0-9]//g')
info "registered the lookup target: id $ID"

: >"$RESULTS"
run() {
  local name=$1
  shift
  info "$name ($SECONDS_PER_RUN s, $CONCURRENCY clients)"
  local line
  line=$(taskset -c 1 "$RELEASE/sagaway-loadgen" --concurrency "$CONCURRENCY" --duration "$SECONDS_PER_RUN" "$@") \
    || fail "load generator ($name)"
  echo "{\"scenario\":\"$name\",${line#\{}" | tee -a "$RESULTS" | sed 's/^/      /'
}

step "Measuring"
run "hello-axum GET /" --url "http://127.0.0.1:$HELLO_PORT/"
run "GET /schemas/ids/{id}" --url "http://127.0.0.1:$REGISTRY_PORT/schemas/ids/$ID"
run "register existing schema" --method POST --url "http://127.0.0.1:$REGISTRY_PORT/subjects/bench-existing/versions" \
  --header "content-type: application/vnd.schemaregistry.v1+json" --body "{\"schema\":\"$SCHEMA\"}"
NEW='{\"type\":\"record\",\"name\":\"N{n}\",\"namespace\":\"b\",\"fields\":[{\"name\":\"a\",\"type\":\"long\"}]}'
run "register new schema (new subject each)" --method POST --url "http://127.0.0.1:$REGISTRY_PORT/subjects/bench-new-{n}/versions" \
  --header "content-type: application/vnd.schemaregistry.v1+json" --body "{\"schema\":\"$NEW\"}"

step "Recording in docs/benchmarks.md"
"$VENV/bin/python" "$ROOT/scripts/bench_report.py" registry "$RESULTS" "$ROOT/docs/benchmarks.md" \
  || python3 "$ROOT/scripts/bench_report.py" registry "$RESULTS" "$ROOT/docs/benchmarks.md"
info "done: see docs/benchmarks.md"
