#!/usr/bin/env bash
# The test command (CI runs it through .ci/run): the same infrastructure as up.sh (installed
# and started if missing), then formatting, lints, every Rust test and the cross-language
# Python tests. Prints each step; a failure names the step and the log to read.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

export SAGAWAY_TEST_PG_URL="$PG_URL"
export SAGAWAY_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
TEST_REGISTRY_PORT="${SAGAWAY_TEST_REGISTRY_PORT:-18081}"

ensure_infrastructure
ensure_venv

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

step "Rust tests (cargo nextest)"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast || fail "Rust tests (see the output above)"
else
  cargo test --workspace --locked --no-fail-fast || fail "Rust tests (see the output above)"
fi

step "A contract registry for the cross-language tests (port $TEST_REGISTRY_PORT)"
cargo build --bins --locked >"$LOG_DIR/test-build.log" 2>&1 || fail "cargo build --bins" "$LOG_DIR/test-build.log"
PGPASSWORD="$PG_PASSWORD" createdb -h "$PG_HOST" -p "$PG_PORT" -U postgres sagaway_test_registry_py \
  || fail "creating sagaway_test_registry_py"
SAGAWAY_HTTP_ADDR="127.0.0.1:$TEST_REGISTRY_PORT" SAGAWAY_DATABASE_URL="$PG_URL/sagaway_test_registry_py" \
  SAGAWAY_LOG_FORMAT=json "${CARGO_TARGET_DIR:-$ROOT/target}/debug/sagaway-registry" \
  >"$LOG_DIR/test-registry.log" 2>&1 </dev/null &
TEST_REGISTRY_PID=$!
trap 'kill "$TEST_REGISTRY_PID" 2>/dev/null || true' EXIT
wait_for 30 "test registry" curl -fsS "http://127.0.0.1:$TEST_REGISTRY_PORT/health/ready" \
  || fail "starting the test registry" "$LOG_DIR/test-registry.log"
export SAGAWAY_TEST_REGISTRY_URL="http://127.0.0.1:$TEST_REGISTRY_PORT"

step "Cross-language tests (pytest e2e/python)"
"$VENV/bin/python" -m pytest -q e2e/python || fail "Python tests (see the output above)" "$LOG_DIR/test-registry.log"

printf '\nAll checks passed.\n'
