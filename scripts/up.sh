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
# The first admin account (created by the user service at start-up if absent): local defaults.
ADMIN_EMAIL="${SAGAWAY_ADMIN_EMAIL:-admin@sagaway.local}"
ADMIN_PASSWORD="${SAGAWAY_ADMIN_PASSWORD:-sagaway-admin}"

ensure_infrastructure

step "Building the workspace (cargo build --profile $PROFILE)"
(cd "$ROOT" && cargo build --profile "$PROFILE" --bins >"$LOG_DIR/build.log" 2>&1) || fail "cargo build" "$LOG_DIR/build.log"
info "binaries in $BIN_DIR"


step "Contract registry on :8081"
start_process registry "$BIN_DIR" http://127.0.0.1:8081/health/ready \
  SAGAWAY_HTTP_ADDR=0.0.0.0:8081 SAGAWAY_DATABASE_URL="$PG_URL/sagaway_registry"

step "Registering the Avro contracts"
"$BIN_DIR/contracts" register --registry http://127.0.0.1:8081 >"$LOG_DIR/contracts-register.log" 2>&1 \
  || fail "contracts register" "$LOG_DIR/contracts-register.log"
info "$(tail -n 1 "$LOG_DIR/contracts-register.log")"

step "Services: product :50052, user :50053, order :50051"
start_process product "$BIN_DIR" http://127.0.0.1:51052/health/ready \
  SAGAWAY_GRPC_ADDR=0.0.0.0:50052 SAGAWAY_DATABASE_URL="$PG_URL/sagaway_products" SAGAWAY_SEED_DEMO_CATALOG=true
start_process user "$BIN_DIR" http://127.0.0.1:51053/health/ready \
  SAGAWAY_GRPC_ADDR=0.0.0.0:50053 SAGAWAY_DATABASE_URL="$PG_URL/sagaway_users" \
  SAGAWAY_ADMIN_EMAIL="$ADMIN_EMAIL" SAGAWAY_ADMIN_PASSWORD="$ADMIN_PASSWORD"
start_process order "$BIN_DIR" http://127.0.0.1:51051/health/ready \
  SAGAWAY_GRPC_ADDR=0.0.0.0:50051 SAGAWAY_DATABASE_URL="$PG_URL/sagaway_orders" \
  SAGAWAY_PRODUCT_URL=http://127.0.0.1:50052

step "Gateway on :8080"
start_process gateway "$BIN_DIR" http://127.0.0.1:8080/health/ready \
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
  admin account      $ADMIN_EMAIL / $ADMIN_PASSWORD   (SAGAWAY_ADMIN_EMAIL / SAGAWAY_ADMIN_PASSWORD)
  demo catalog       seeded on first run (SAGAWAY_SEED_DEMO_CATALOG=true)

Try (README.md has the whole walk-through):
  curl -s -X POST localhost:8080/v1/auth/register -H 'content-type: application/json' \\
    -d '{"email":"ada@example.com","password":"correct horse battery","display_name":"Ada"}'
  TOKEN=\$(curl -s -X POST localhost:8080/v1/auth/login -H 'content-type: application/json' \\
    -d '{"email":"ada@example.com","password":"correct horse battery"}' | jq -r .access_token)
  curl -s localhost:8080/v1/products -H "authorization: Bearer \$TOKEN"

Logs: $LOG_DIR    Stop: scripts/down.sh
INFO
