#!/usr/bin/env bash
# The test command (CI runs it through .ci/run): the same infrastructure as up.sh (installed
# and started if missing) except up.sh's broker, as the tests run brokers of their own; then
# formatting, lints, every Rust test and the cross-language Python tests. Prints each step; a
# failure names the step and the log to read.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

export SAGAWAY_TEST_PG_URL="$PG_URL"
export SAGAWAY_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
TEST_REGISTRY_PORT="${SAGAWAY_TEST_REGISTRY_PORT:-18081}"
TEST_BROKER_PORT="${SAGAWAY_TEST_BROKER_PORT:-19092}"

# Not up.sh's broker: the tests start brokers of their own (below).
ensure_infrastructure --no-broker
ensure_venv

# The processes this script starts keep their logs and pids apart from up.sh's.
LOG_DIR="$RUN_DIR/test/logs"
PID_DIR="$RUN_DIR/test/pids"
mkdir -p "$LOG_DIR" "$PID_DIR"
TEST_PROCESSES=(order user product registry broker)
for name in "${TEST_PROCESSES[@]}"; do stop_process "$name" >/dev/null; done
trap 'for name in "${TEST_PROCESSES[@]}"; do stop_process "$name" >/dev/null; done' EXIT

# The tests never use up.sh's broker (127.0.0.1:$BROKER_PORT). Their saga events go to the
# standard topics, and a service's consumer group starts from the earliest offset: a system
# started there later would first wade through thousands of foreign events, each unknown order
# costing seconds of retries, before it saw its own. The Rust tests get a broker of their own,
# and the cross-language processes a fresh one after them (the Rust tests' events would hold
# them up the same way). Each starts empty.
TEST_BROKER_DATA="$RUN_DIR/test/broker"
fresh_test_broker() {
  stop_process broker >/dev/null
  rm -rf "$TEST_BROKER_DATA"
  if port_open "$TEST_BROKER_PORT"; then
    fail "port $TEST_BROKER_PORT is taken by a process this script did not start (set SAGAWAY_TEST_BROKER_PORT)"
  fi
  start_broker "$TEST_BROKER_PORT" "$TEST_BROKER_DATA"
}
export SAGAWAY_KAFKA_BROKERS="127.0.0.1:$TEST_BROKER_PORT" SAGAWAY_TEST_KAFKA_BROKERS="127.0.0.1:$TEST_BROKER_PORT"

step "Dropping databases left by earlier test runs"
PGPASSWORD="$PG_PASSWORD" psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -Atqc \
  "SELECT datname FROM pg_database WHERE datname LIKE 'sagaway_test_%'" | while read -r db; do
  PGPASSWORD="$PG_PASSWORD" dropdb -h "$PG_HOST" -p "$PG_PORT" -U postgres --if-exists "$db" || true
done
info "done"

step "cargo fmt --check"
cargo fmt --all -- --check || fail "cargo fmt --check (run: cargo fmt --all)"

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings 2>&1 | tee "$LOG_DIR/clippy.log" \
  || fail "cargo clippy" "$LOG_DIR/clippy.log"

step "A broker for the Rust tests (nisshi on 127.0.0.1:$TEST_BROKER_PORT)"
fresh_test_broker

step "Rust tests (cargo nextest)"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast || fail "Rust tests (see the output above)"
else
  cargo test --workspace --locked --no-fail-fast || fail "Rust tests (see the output above)"
fi

step "A fresh broker for the cross-language processes (nisshi on 127.0.0.1:$TEST_BROKER_PORT)"
fresh_test_broker

step "The processes for the cross-language tests (registry :$TEST_REGISTRY_PORT, order :18051, product :18052, user :18053; broker :$TEST_BROKER_PORT)"
cargo build --bins --locked >"$LOG_DIR/test-build.log" 2>&1 || fail "cargo build --bins" "$LOG_DIR/test-build.log"
for db in registry orders products users; do
  PGPASSWORD="$PG_PASSWORD" createdb -h "$PG_HOST" -p "$PG_PORT" -U postgres "sagaway_test_py_$db" \
    || fail "creating sagaway_test_py_$db"
done
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug"
export SAGAWAY_LOG_FORMAT=json SAGAWAY_SCHEMA_REGISTRY_URL="http://127.0.0.1:$TEST_REGISTRY_PORT"
start_process registry "$BIN" "http://127.0.0.1:$TEST_REGISTRY_PORT/health/ready" \
  SAGAWAY_HTTP_ADDR="127.0.0.1:$TEST_REGISTRY_PORT" SAGAWAY_DATABASE_URL="$PG_URL/sagaway_test_py_registry"
start_process product "$BIN" http://127.0.0.1:19052/health/ready SAGAWAY_GRPC_ADDR=127.0.0.1:18052 \
  SAGAWAY_DATABASE_URL="$PG_URL/sagaway_test_py_products" SAGAWAY_SEED_DEMO_CATALOG=true
start_process user "$BIN" http://127.0.0.1:19053/health/ready SAGAWAY_GRPC_ADDR=127.0.0.1:18053 \
  SAGAWAY_DATABASE_URL="$PG_URL/sagaway_test_py_users" \
  SAGAWAY_ADMIN_EMAIL=admin@sagaway.test SAGAWAY_ADMIN_PASSWORD=test-admin-password
start_process order "$BIN" http://127.0.0.1:19051/health/ready SAGAWAY_GRPC_ADDR=127.0.0.1:18051 \
  SAGAWAY_DATABASE_URL="$PG_URL/sagaway_test_py_orders" SAGAWAY_PRODUCT_URL=http://127.0.0.1:18052
export SAGAWAY_TEST_REGISTRY_URL="http://127.0.0.1:$TEST_REGISTRY_PORT"
export SAGAWAY_TEST_ORDER_ADDR=127.0.0.1:18051 SAGAWAY_TEST_PRODUCT_ADDR=127.0.0.1:18052 SAGAWAY_TEST_USER_ADDR=127.0.0.1:18053
export SAGAWAY_TEST_ADMIN_EMAIL=admin@sagaway.test SAGAWAY_TEST_ADMIN_PASSWORD=test-admin-password

step "Contract checks: avro/ and proto/ against the previous commit, and against a registry"
CONTRACTS="${CARGO_TARGET_DIR:-$ROOT/target}/debug/contracts"
if git -C "$ROOT" rev-parse --verify -q HEAD~1 >/dev/null; then
  "$CONTRACTS" check --against git:HEAD~1 || fail "a contract change would break consumers (report above)"
else
  info "no previous commit to compare with"
fi
"$CONTRACTS" register --registry "$SAGAWAY_TEST_REGISTRY_URL" >"$LOG_DIR/contracts-register-test.log" 2>&1 \
  || fail "contracts register" "$LOG_DIR/contracts-register-test.log"
"$CONTRACTS" check --registry "$SAGAWAY_TEST_REGISTRY_URL" || fail "contracts check against the registry"

step "Cross-language tests (pytest e2e/python)"
"$VENV/bin/python" -m pytest -q e2e/python || fail "Python tests (see the output above; process logs in $LOG_DIR)"

printf '\nAll checks passed.\n'
