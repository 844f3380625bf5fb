# shellcheck shell=bash
# Shared by up.sh, down.sh and test.sh: progress output, installing what is missing, and
# starting PostgreSQL, Redis and the Kafka-compatible broker when they are not running.
# Everything is idempotent: what is installed or running already is left as it is.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="${SAGAWAY_RUN_DIR:-$ROOT/.run}"
LOG_DIR="$RUN_DIR/logs"
PID_DIR="$RUN_DIR/pids"
DATA_DIR="$RUN_DIR/data"
VENV="${SAGAWAY_VENV:-$ROOT/.venv}"
mkdir -p "$LOG_DIR" "$PID_DIR" "$DATA_DIR"

PG_HOST=127.0.0.1
PG_PORT="${SAGAWAY_PG_PORT:-5432}"
PG_PASSWORD="${SAGAWAY_PG_PASSWORD:-postgres}"
PG_URL="postgres://postgres:${PG_PASSWORD}@${PG_HOST}:${PG_PORT}"
REDIS_PORT="${SAGAWAY_REDIS_PORT:-6379}"
BROKER_PORT="${SAGAWAY_BROKER_PORT:-9092}"
NISSHI_VERSION=0.6.0
DATABASES=(sagaway_orders sagaway_products sagaway_users sagaway_registry)
SAGA_TOPICS=(sagaway.order.events sagaway.stock.events sagaway.payment.events)

# The consumer-group settings the embedded broker needs (it makes a join wait about half of
# the session timeout); exported so every process and test started from here uses them.
export SAGAWAY_KAFKA_BROKERS="${SAGAWAY_KAFKA_BROKERS:-127.0.0.1:${BROKER_PORT}}"
export SAGAWAY_KAFKA_SESSION_TIMEOUT_MS="${SAGAWAY_KAFKA_SESSION_TIMEOUT_MS:-2000}"
export SAGAWAY_KAFKA_HEARTBEAT_MS="${SAGAWAY_KAFKA_HEARTBEAT_MS:-200}"
# It also holds a fetch that found nothing for the whole fetch wait, even when messages arrive
# meanwhile, which would add up to that wait to every hop of the saga (librdkafka's default is
# 500 ms).
export SAGAWAY_KAFKA_FETCH_WAIT_MS="${SAGAWAY_KAFKA_FETCH_WAIT_MS:-10}"

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
# Runs a command as the postgres system user (peer authentication on the local socket).
as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

STEP=0
step() {
  STEP=$((STEP + 1))
  printf '\n==> [%d] %s\n' "$STEP" "$*"
}
info() { printf '    %s\n' "$*"; }

# fail STEP_NAME LOG_FILE: says which step failed and which log to read, shows its tail, exits.
fail() {
  printf '\nFAILED: %s\n' "$1" >&2
  if [ -n "${2:-}" ] && [ -f "$2" ]; then
    printf '  read the log: %s (last lines below)\n' "$2" >&2
    tail -n 25 "$2" | sed 's/^/  | /' >&2
  fi
  exit 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for TIMEOUT_SECONDS DESCRIPTION COMMAND...: retries COMMAND until it succeeds.
wait_for() {
  local timeout=$1 what=$2 start=$SECONDS
  shift 2
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS - start >= timeout )); then return 1; fi
    sleep 0.5
  done
  info "$what is up ($((SECONDS - start)) s)"
}

APT_UPDATED=0
apt_install() {
  local log="$LOG_DIR/apt.log"
  if [ "$APT_UPDATED" = 0 ]; then
    info "apt-get update"
    $SUDO apt-get update >>"$log" 2>&1 || fail "apt-get update" "$log"
    APT_UPDATED=1
  fi
  info "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "$@" >>"$log" 2>&1 \
    || fail "installing $*" "$log"
}

ensure_packages() {
  step "Checking PostgreSQL, Redis and build tools"
  local missing=()
  command -v pg_ctlcluster >/dev/null 2>&1 || missing+=(postgresql postgresql-contrib)
  command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v make >/dev/null 2>&1 || missing+=(make)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v jq >/dev/null 2>&1 || missing+=(jq)
  if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; else info "all present"; fi
}

pg_ok() { PGPASSWORD="$PG_PASSWORD" psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -Atqc 'SELECT 1' >/dev/null 2>&1; }

ensure_postgres() {
  step "PostgreSQL on $PG_HOST:$PG_PORT"
  local log="$LOG_DIR/postgres-setup.log"
  if ! pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; then
    local cluster
    cluster=$(pg_lsclusters --no-header 2>/dev/null | awk -v port="$PG_PORT" '$3 == port {print $1" "$2; exit}')
    if [ -z "$cluster" ]; then
      local version
      version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
      info "creating cluster $version/main on port $PG_PORT"
      $SUDO pg_createcluster "$version" main --port "$PG_PORT" >>"$log" 2>&1 || fail "creating a PostgreSQL cluster" "$log"
      cluster="$version main"
    fi
    info "starting cluster $cluster"
    # shellcheck disable=SC2086
    $SUDO pg_ctlcluster $cluster start >>"$log" 2>&1 || fail "starting PostgreSQL ($cluster)" "$log"
    echo "$cluster" >"$PID_DIR/postgres.cluster"
    wait_for 30 "PostgreSQL" pg_isready -h "$PG_HOST" -p "$PG_PORT" || fail "waiting for PostgreSQL" "$log"
  else
    info "already running"
  fi
  if ! pg_ok; then
    info "setting the local password of role postgres"
    (cd / && as_postgres psql -p "$PG_PORT" -qc "ALTER ROLE postgres PASSWORD '$PG_PASSWORD'") >>"$log" 2>&1 \
      || fail "setting the postgres password" "$log"
    pg_ok || fail "connecting as postgres with a password (check pg_hba.conf allows md5/scram on 127.0.0.1)" "$log"
  fi
}

ensure_databases() {
  step "Databases: ${DATABASES[*]}"
  local db
  for db in "${DATABASES[@]}"; do
    if PGPASSWORD="$PG_PASSWORD" psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -Atqc \
      "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
      info "$db exists"
    else
      PGPASSWORD="$PG_PASSWORD" createdb -h "$PG_HOST" -p "$PG_PORT" -U postgres "$db" || fail "creating database $db"
      info "$db created"
    fi
  done
}

ensure_redis() {
  step "Redis on 127.0.0.1:$REDIS_PORT"
  if redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
    info "already running"
    return
  fi
  mkdir -p "$DATA_DIR/redis"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$DATA_DIR/redis" --daemonize yes \
    --pidfile "$PID_DIR/redis.pid" --logfile "$LOG_DIR/redis.log" --appendonly yes >/dev/null \
    || fail "starting Redis" "$LOG_DIR/redis.log"
  wait_for 15 "Redis" redis-cli -p "$REDIS_PORT" ping || fail "waiting for Redis" "$LOG_DIR/redis.log"
}

nisshi_bin() {
  if command -v nisshi >/dev/null 2>&1; then command -v nisshi; return; fi
  local candidate="${CARGO_HOME:-$HOME/.cargo}/bin/nisshi"
  if [ -x "$candidate" ]; then echo "$candidate"; fi
}

# ensure_nisshi: the broker's binary, built with cargo install when missing (once).
ensure_nisshi() {
  local bin log="$LOG_DIR/nisshi-install.log"
  bin=$(nisshi_bin)
  if [ -z "$bin" ]; then
    info "nisshi is not installed: building it with cargo install (about 20-25 minutes on 2 cores)"
    info "progress: tail -f $log"
    cargo install nisshi --version "$NISSHI_VERSION" --locked --features libsql,dynostore >"$log" 2>&1 \
      || fail "installing nisshi" "$log"
    bin=$(nisshi_bin)
  else
    info "using $bin"
  fi
}

ensure_broker() {
  step "Kafka-compatible broker (nisshi $NISSHI_VERSION) on 127.0.0.1:$BROKER_PORT"
  ensure_nisshi
  start_broker "$BROKER_PORT" "$DATA_DIR/broker"
}

# start_broker PORT DATA_DIR: starts the installed nisshi on 127.0.0.1:PORT with its SQLite file
# in DATA_DIR (logging to $LOG_DIR/broker.log, its pid in $PID_DIR/broker.pid), unless the port
# answers already; then creates the saga topics and their .dlq twins with 3 partitions.
start_broker() {
  local port=$1 data=$2 bin
  bin=$(nisshi_bin)
  [ -n "$bin" ] || fail "nisshi is not installed (scripts/up.sh installs it)"
  if port_open "$port"; then
    info "already running"
  else
    mkdir -p "$data"
    # nisshi 0.6.0 resolves the SQLite path against its working directory (an absolute
    # sqlite:///path is mangled), so it runs from its data directory.
    (cd "$data" && exec nohup "$bin" broker \
      --listener-url "tcp://127.0.0.1:$port" \
      --advertised-listener-url "tcp://127.0.0.1:$port" \
      --storage-engine "sqlite://broker.db" >>"$LOG_DIR/broker.log" 2>&1 </dev/null) &
    echo $! >"$PID_DIR/broker.pid"
    wait_for 60 "broker" port_open "$port" || fail "starting the broker" "$LOG_DIR/broker.log"
  fi
  # Creating a topic that exists fails harmlessly; the log keeps the broker's answers.
  local topic name
  for topic in "${SAGA_TOPICS[@]}"; do
    for name in "$topic" "$topic.dlq"; do
      "$bin" topic create "$name" --broker "tcp://127.0.0.1:$port" --partitions 3 \
        >>"$LOG_DIR/broker-topics.log" 2>&1 || true
    done
  done
  info "topics: ${SAGA_TOPICS[*]} (+ .dlq twins)"
}

ensure_venv() {
  step "Python virtualenv for the cross-language tests ($VENV)"
  local log="$LOG_DIR/pip.log"
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV" >>"$log" 2>&1 || fail "creating the virtualenv" "$log"
  fi
  # Reinstall only when the pinned requirements change.
  local requirements="$ROOT/e2e/python/requirements.txt" stamp="$VENV/.requirements.sha256"
  local wanted
  wanted=$(sha256sum "$requirements" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    info "pip install -r e2e/python/requirements.txt"
    "$VENV/bin/pip" install -q -r "$requirements" >>"$log" 2>&1 \
      || fail "pip install -r e2e/python/requirements.txt" "$log"
    echo "$wanted" >"$stamp"
  fi
  info "ready"
}

# start_process NAME BIN_DIR HEALTH_URL VAR=VALUE...: starts BIN_DIR/sagaway-NAME with those
# variables, logging to .run/logs/NAME.log with its pid in .run/pids/NAME.pid, unless that pid
# is alive already; then waits until HEALTH_URL answers.
start_process() {
  local name=$1 bin_dir=$2 health=$3
  shift 3
  local pidfile="$PID_DIR/$name.pid" log="$LOG_DIR/$name.log"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    info "$name already running (pid $(cat "$pidfile"))"
  else
    env "$@" nohup "$bin_dir/sagaway-$name" >>"$log" 2>&1 </dev/null &
    echo $! >"$pidfile"
    info "$name started (pid $!), log $log"
  fi
  wait_for 60 "$name" curl -fsS "$health" || fail "waiting for $name to be healthy ($health)" "$log"
}

# stop_process NAME: stops what start_process started (SIGTERM, then SIGKILL after 10 s).
stop_process() {
  local name=$1 pidfile="$PID_DIR/$1.pid"
  [ -f "$pidfile" ] || return 0
  local pid
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; info "$name killed (did not stop in 10 s)"; else info "$name stopped"; fi
  fi
  rm -f "$pidfile"
}

# ensure_infrastructure [--no-broker]: installs and starts what the system needs. With
# --no-broker the broker is only installed, not started (the tests run brokers of their own).
ensure_infrastructure() {
  ensure_packages
  ensure_postgres
  ensure_databases
  ensure_redis
  if [ "${1:-}" = --no-broker ]; then
    step "Kafka-compatible broker (nisshi $NISSHI_VERSION): installed, not started"
    ensure_nisshi
  else
    ensure_broker
  fi
}
