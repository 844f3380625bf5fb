#!/usr/bin/env bash
# Stops exactly what scripts/up.sh (or test.sh) started, by the pid files under .run/pids:
# the five Sagaway processes, then the broker and Redis if they were started here, and the
# PostgreSQL cluster if it was started here. Anything that was already running is left alone.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"


step "Stopping Sagaway processes"
for name in gateway order user product registry; do stop_process "$name"; done

step "Stopping infrastructure started by these scripts"
stop_process broker
stop_process redis
if [ -f "$PID_DIR/postgres.cluster" ]; then
  # shellcheck disable=SC2046
  $SUDO pg_ctlcluster $(cat "$PID_DIR/postgres.cluster") stop && info "PostgreSQL stopped"
  rm -f "$PID_DIR/postgres.cluster"
fi
info "done"
