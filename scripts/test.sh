#!/usr/bin/env bash
# The test command (CI runs it through .ci/run): the same infrastructure as up.sh (installed
# and started if missing), then formatting, lints, every Rust test and the cross-language
# Python tests. Prints each step; a failure names the step and the log to read.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

export SAGAWAY_TEST_PG_URL="$PG_URL"
export SAGAWAY_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"

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

step "Cross-language tests (pytest e2e/python)"
"$VENV/bin/python" -m pytest -q e2e/python || fail "Python tests (see the output above)"

printf '\nAll checks passed.\n'
