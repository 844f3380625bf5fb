# shellcheck shell=bash
# A whole Sagaway system of its own for the drill and the saga benchmark: fresh databases, a
# fresh broker and the four processes on ports of its own, so that neither up.sh's system nor
# the test suite's is touched and the broker's log holds only this run's events. Sourced after
# lib.sh by scripts/drill.sh and scripts/bench-saga.sh.
#
#   system_init NAME BASE_PORT BIN_DIR   names the run (databases sagaway_NAME_*, logs and pids
#                                        in .run/NAME/), picks its ports from BASE_PORT
#   system_start_all                     fresh databases and broker data; starts everything
#   system_start PROCESS / system_kill PROCESS   one of: broker registry product user order
#   system_stop_all
#
# Ports from BASE_PORT (e.g. 28000): order +51, product +52, user +53 (admin: +1000 each),
# registry +81, broker +1092. SYSTEM_EXTRA_ENV (an array of VAR=VALUE) is passed to the three
# services.

SYSTEM_PROCESSES=(order user product registry broker)
SYSTEM_EXTRA_ENV=()

system_init() {
  SYSTEM_NAME=$1
  local base=$2
  SYSTEM_BIN=$3
  SYSTEM_ORDER_PORT=$((base + 51))
  SYSTEM_PRODUCT_PORT=$((base + 52))
  SYSTEM_USER_PORT=$((base + 53))
  SYSTEM_REGISTRY_PORT=$((base + 81))
  SYSTEM_BROKER_PORT=$((base + 1092))
  SYSTEM_DIR="$RUN_DIR/$SYSTEM_NAME"
  LOG_DIR="$SYSTEM_DIR/logs"
  PID_DIR="$SYSTEM_DIR/pids"
  mkdir -p "$LOG_DIR" "$PID_DIR"
  SYSTEM_BROKERS="127.0.0.1:$SYSTEM_BROKER_PORT"
  SYSTEM_REGISTRY_URL="http://127.0.0.1:$SYSTEM_REGISTRY_PORT"
  SYSTEM_ORDERS_DB="$PG_URL/sagaway_${SYSTEM_NAME}_orders"
  SYSTEM_PRODUCTS_DB="$PG_URL/sagaway_${SYSTEM_NAME}_products"
  SYSTEM_USERS_DB="$PG_URL/sagaway_${SYSTEM_NAME}_users"
}

system_databases() {
  local db
  for db in registry orders products users; do
    PGPASSWORD="$PG_PASSWORD" dropdb -h "$PG_HOST" -p "$PG_PORT" -U postgres --if-exists --force \
      "sagaway_${SYSTEM_NAME}_$db" || fail "dropping sagaway_${SYSTEM_NAME}_$db"
    PGPASSWORD="$PG_PASSWORD" createdb -h "$PG_HOST" -p "$PG_PORT" -U postgres \
      "sagaway_${SYSTEM_NAME}_$db" || fail "creating sagaway_${SYSTEM_NAME}_$db"
  done
}

system_start() {
  local common=(SAGAWAY_KAFKA_BROKERS="$SYSTEM_BROKERS" SAGAWAY_SCHEMA_REGISTRY_URL="$SYSTEM_REGISTRY_URL"
    SAGAWAY_LOG_FORMAT=json "${SYSTEM_EXTRA_ENV[@]}")
  case $1 in
    broker) start_broker "$SYSTEM_BROKER_PORT" "$SYSTEM_DIR/broker" ;;
    registry)
      start_process registry "$SYSTEM_BIN" "$SYSTEM_REGISTRY_URL/health/ready" \
        SAGAWAY_HTTP_ADDR="127.0.0.1:$SYSTEM_REGISTRY_PORT" \
        SAGAWAY_DATABASE_URL="$PG_URL/sagaway_${SYSTEM_NAME}_registry" SAGAWAY_LOG_FORMAT=json ;;
    product)
      start_process product "$SYSTEM_BIN" "http://127.0.0.1:$((SYSTEM_PRODUCT_PORT + 1000))/health/ready" \
        SAGAWAY_GRPC_ADDR="127.0.0.1:$SYSTEM_PRODUCT_PORT" SAGAWAY_DATABASE_URL="$SYSTEM_PRODUCTS_DB" "${common[@]}" ;;
    user)
      start_process user "$SYSTEM_BIN" "http://127.0.0.1:$((SYSTEM_USER_PORT + 1000))/health/ready" \
        SAGAWAY_GRPC_ADDR="127.0.0.1:$SYSTEM_USER_PORT" SAGAWAY_DATABASE_URL="$SYSTEM_USERS_DB" "${common[@]}" ;;
    order)
      start_process order "$SYSTEM_BIN" "http://127.0.0.1:$((SYSTEM_ORDER_PORT + 1000))/health/ready" \
        SAGAWAY_GRPC_ADDR="127.0.0.1:$SYSTEM_ORDER_PORT" SAGAWAY_DATABASE_URL="$SYSTEM_ORDERS_DB" \
        SAGAWAY_PRODUCT_URL="http://127.0.0.1:$SYSTEM_PRODUCT_PORT" "${common[@]}" ;;
    *) fail "unknown process $1" ;;
  esac
}

# system_kill PROCESS: SIGKILL, as a crash would; waits until it is gone (and its port free).
system_kill() {
  local pidfile="$PID_DIR/$1.pid" pid
  [ -f "$pidfile" ] || fail "$1 is not running"
  pid=$(cat "$pidfile")
  kill -KILL "$pid" 2>/dev/null || true
  # Reaped quietly (bash would report the killed job otherwise).
  wait "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$pidfile"
  if [ "$1" = broker ]; then
    while port_open "$SYSTEM_BROKER_PORT"; do sleep 0.1; done
  fi
}

system_stop_all() {
  local name
  for name in "${SYSTEM_PROCESSES[@]}"; do stop_process "$name" >/dev/null; done
}

system_start_all() {
  system_stop_all
  system_databases
  rm -rf "$SYSTEM_DIR/broker"
  if port_open "$SYSTEM_BROKER_PORT"; then
    fail "port $SYSTEM_BROKER_PORT is taken by a process this script did not start"
  fi
  system_start broker
  system_start registry
  "$SYSTEM_BIN/contracts" register --registry "$SYSTEM_REGISTRY_URL" >"$LOG_DIR/register.log" 2>&1 \
    || fail "contracts register" "$LOG_DIR/register.log"
  system_start product
  system_start user
  system_start order
}

# The sagaway-saga check arguments for this system.
system_check_args() {
  printf '%s\n' --orders-db "$SYSTEM_ORDERS_DB" --products-db "$SYSTEM_PRODUCTS_DB" \
    --users-db "$SYSTEM_USERS_DB" --brokers "$SYSTEM_BROKERS" --registry "$SYSTEM_REGISTRY_URL"
}
