#!/usr/bin/env bash
# The fault drill: runs the saga workload (short stock, short funds, cancels) against a system
# of its own while SIGKILLing and restarting, in turn, the order, product and user services,
# the registry and the broker; then waits for quiescence and checks invariants 1-6 of
# DESIGN.md. Records the kills, the outcome counts and the checker's verdicts in
# docs/reliability.md. Exits non-zero when an invariant is violated.
#
# DRILL_ORDERS (900), DRILL_RATE (10 orders/s), DRILL_SEED (1), DRILL_DOWN (3 s each victim
# stays dead), DRILL_GAP (5 s between a restart and the next kill). Debug builds.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$ROOT/scripts/system.sh"
cd "$ROOT"

ORDERS="${DRILL_ORDERS:-900}"
RATE="${DRILL_RATE:-10}"
SEED="${DRILL_SEED:-1}"
DOWN="${DRILL_DOWN:-3}"
GAP="${DRILL_GAP:-5}"
VICTIMS=(order product user registry broker)

ensure_infrastructure

step "Building the processes and sagaway-saga (debug)"
cargo build --locked --bins >"$LOG_DIR/drill-build.log" 2>&1 || fail "cargo build --bins" "$LOG_DIR/drill-build.log"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug"

system_init drill 28000 "$BIN"
trap 'system_stop_all; [ -n "${LOAD_PID:-}" ] && kill "$LOAD_PID" 2>/dev/null; true' EXIT
# Reservations of orders whose payment never comes back expire within the drill.
SYSTEM_EXTRA_ENV=(SAGAWAY_RESERVATION_TTL_SECS=120)

step "A system of its own: fresh databases, broker on :$SYSTEM_BROKER_PORT, services on :$SYSTEM_ORDER_PORT-$SYSTEM_USER_PORT"
system_start_all
RESULTS="$SYSTEM_DIR/results.jsonl"
: >"$RESULTS"

step "Workload: $ORDERS orders at $RATE/s (seed $SEED), while each process is killed in turn"
"$BIN/sagaway-saga" load --order "http://127.0.0.1:$SYSTEM_ORDER_PORT" \
  --product "http://127.0.0.1:$SYSTEM_PRODUCT_PORT" --user "http://127.0.0.1:$SYSTEM_USER_PORT" \
  --shape contended --users 40 --products 16 --orders "$ORDERS" --rate "$RATE" --concurrency 16 \
  --seed "$SEED" >"$SYSTEM_DIR/load.json" 2>"$LOG_DIR/load.log" &
LOAD_PID=$!
START=$SECONDS
killed=0
# Keep killing while the workload runs, and until every victim has died at least once.
while kill -0 "$LOAD_PID" 2>/dev/null || (( killed < ${#VICTIMS[@]} )); do
  sleep "$GAP"
  victim=${VICTIMS[$((killed % ${#VICTIMS[@]}))]}
  at=$((SECONDS - START))
  system_kill "$victim"
  sleep "$DOWN"
  restart_start=$SECONDS
  system_start "$victim" >/dev/null
  back=$((SECONDS - restart_start))
  info "t=${at}s: SIGKILL $victim, down ${DOWN}s, healthy again ${back}s after restart"
  echo "{\"kind\":\"kill\",\"process\":\"$victim\",\"at_s\":$at,\"down_s\":$DOWN,\"restart_s\":$back}" >>"$RESULTS"
  killed=$((killed + 1))
done
wait "$LOAD_PID" || fail "the workload failed" "$LOG_DIR/load.log"
LOAD_PID=""
tail -n 1 "$LOG_DIR/load.log" | sed 's/^/    /'
echo "{\"kind\":\"load\",\"result\":$(jq -c . "$SYSTEM_DIR/load.json")}" >>"$RESULTS"
info "$killed kills in $((SECONDS - START)) s"

step "Waiting for quiescence, then checking invariants 1-6"
mapfile -t check_args < <(system_check_args)
CHECK_START=$SECONDS
set +e
"$BIN/sagaway-saga" check "${check_args[@]}" --wait 900 --settle 120 --json "$SYSTEM_DIR/check.json"
verdict=$?
set -e
echo "{\"kind\":\"check\",\"exit\":$verdict,\"settle_s\":$((SECONDS - CHECK_START)),\"result\":$(jq -c . "$SYSTEM_DIR/check.json")}" >>"$RESULTS"
for name in order product user registry; do
  restarts=$(grep -c '"kind":"kill","process":"'"$name"'"' "$RESULTS" || true)
  info "$name: killed $restarts time(s); log $LOG_DIR/$name.log"
done

step "Recording in docs/reliability.md"
"$VENV/bin/python" "$ROOT/scripts/bench_report.py" drill "$RESULTS" "$ROOT/docs/reliability.md" 2>/dev/null \
  || python3 "$ROOT/scripts/bench_report.py" drill "$RESULTS" "$ROOT/docs/reliability.md"
if [ "$verdict" != 0 ]; then fail "invariants violated (report above; $SYSTEM_DIR/check.json)"; fi
printf '\nDrill passed: every invariant holds after %d kills.\n' "$killed"
