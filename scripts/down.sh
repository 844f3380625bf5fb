#!/usr/bin/env bash
# Stops exactly what scripts/up.sh (or test.sh) started, by the pid files under .run/pids:
# the five Sagaway processes, then the broker and Redis if they were started here, and the
# PostgreSQL cluster if it was started here. Anything that was already running is left alone.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stop_pid() {
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

step "Stopping Sagaway processes"
for name in gateway order user product registry; do stop_pid "$name"; done

step "Stopping infrastructure started by these scripts"
stop_pid broker
stop_pid redis
if [ -f "$PID_DIR/postgres.cluster" ]; then
  # shellcheck disable=SC2046
  $SUDO pg_ctlcluster $(cat "$PID_DIR/postgres.cluster") stop && info "PostgreSQL stopped"
  rm -f "$PID_DIR/postgres.cluster"
fi
info "done"
