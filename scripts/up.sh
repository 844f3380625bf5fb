#!/usr/bin/env bash
# Runs the whole Sagaway system on this machine: installs what is missing, starts PostgreSQL,
# Redis and the broker if they are not running, builds and starts the registry, the three
# services and the gateway in the background, waits until each is healthy, and prints how to
# call it. Idempotent: run it again and it starts only what is not running.
#
# Logs and pid files: .run/logs/*.log, .run/pids/*.pid. Stop with scripts/down.sh.
# SAGAWAY_PROFILE=release builds optimized binaries (default: dev, quicker to build).

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROFILE="${SAGAWAY_PROFILE:-dev}"
TARGET_SUBDIR=$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")
BIN_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/$TARGET_SUBDIR"
export SAGAWAY_LOG_FORMAT="${SAGAWAY_LOG_FORMAT:-json}"

ensure_infrastructure

step "Building the workspace (cargo build --profile $PROFILE)"
(cd "$ROOT" && cargo build --profile "$PROFILE" --bins >"$LOG_DIR/build.log" 2>&1) || fail "cargo build" "$LOG_DIR/build.log"
info "binaries in $BIN_DIR"

# start NAME HEALTH_URL VAR=VALUE...: starts target/<profile>/sagaway-NAME unless running.
start() {
  local name=$1 health=$2
  shift 2
  local pidfile="$PID_DIR/$name.pid" log="$LOG_DIR/$name.log"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    info "$name already running (pid $(cat "$pidfile"))"
  else
    env "$@" nohup "$BIN_DIR/sagaway-$name" >>"$log" 2>&1 </dev/null &
    echo $! >"$pidfile"
    info "$name started (pid $!), log $log"
  fi
  wait_for 60 "$name" curl -fsS "$health" || fail "waiting for $name to be healthy ($health)" "$log"
}

step "Contract registry on :8081"
start registry http://127.0.0.1:8081/health/ready \
  SAGAWAY_HTTP_ADDR=0.0.0.0:8081 SAGAWAY_DATABASE_URL="$PG_URL/sagaway_registry"

step "Registering the Avro contracts"
"$BIN_DIR/contracts" register --registry http://127.0.0.1:8081 >"$LOG_DIR/contracts-register.log" 2>&1 \
  || fail "contracts register" "$LOG_DIR/contracts-register.log"
info "$(tail -n 1 "$LOG_DIR/contracts-register.log")"

step "Services: product :50052, user :50053, order :50051"
start product http://127.0.0.1:51052/health/ready \
  SAGAWAY_GRPC_ADDR=0.0.0.0:50052 SAGAWAY_DATABASE_URL="$PG_URL/sagaway_products"
start user http://127.0.0.1:51053/health/ready \
  SAGAWAY_GRPC_ADDR=0.0.0.0:50053 SAGAWAY_DATABASE_URL="$PG_URL/sagaway_users"
start order http://127.0.0.1:51051/health/ready \
  SAGAWAY_GRPC_ADDR=0.0.0.0:50051 SAGAWAY_DATABASE_URL="$PG_URL/sagaway_orders" \
  SAGAWAY_PRODUCT_URL=http://127.0.0.1:50052

step "Gateway on :8080"
start gateway http://127.0.0.1:8080/health/ready \
  SAGAWAY_HTTP_ADDR=0.0.0.0:8080 SAGAWAY_REDIS_URL="redis://127.0.0.1:$REDIS_PORT" \
  SAGAWAY_ORDER_URL=http://127.0.0.1:50051 SAGAWAY_PRODUCT_URL=http://127.0.0.1:50052 \
  SAGAWAY_USER_URL=http://127.0.0.1:50053

cat <<INFO

Sagaway is up.
  gateway            http://127.0.0.1:8080      (health: /health/ready, metrics: /metrics)
  contract registry  http://127.0.0.1:8081      (Confluent REST API)
  order service      grpc://127.0.0.1:50051     admin http://127.0.0.1:51051
  product service    grpc://127.0.0.1:50052     admin http://127.0.0.1:51052
  user service       grpc://127.0.0.1:50053     admin http://127.0.0.1:51053
  broker             127.0.0.1:$BROKER_PORT           PostgreSQL 127.0.0.1:$PG_PORT   Redis 127.0.0.1:$REDIS_PORT

Try:
  curl -s http://127.0.0.1:8081/subjects
  curl -s http://127.0.0.1:51052/health/ready

Logs: $LOG_DIR    Stop: scripts/down.sh
INFO
