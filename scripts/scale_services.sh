#!/usr/bin/env bash
# Start (or stop) a throw-away PostgreSQL and Redis on 127.0.0.1 for the scale-out test profile.
# Usage: scripts/scale_services.sh start|stop   — prints the env to use on start.
# Installs the Debian packages when missing. Data lives under $SCALE_DIR (default /tmp/voicebot-scale).
set -euo pipefail
SCALE_DIR=${SCALE_DIR:-/tmp/voicebot-scale}
PG_PORT=${PG_PORT:-55432}
REDIS_PORT=${REDIS_PORT:-56379}
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  if [ -z "$PG_BIN" ] || ! command -v redis-server >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql redis-server >/dev/null
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  mkdir -p "$SCALE_DIR"
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$SCALE_DIR"; fi
  if [ ! -f "$SCALE_DIR/pg/PG_VERSION" ]; then
    as_postgres "$PG_BIN/initdb" -D "$SCALE_DIR/pg" -U voicebot --auth=trust >/dev/null
  fi
  as_postgres "$PG_BIN/pg_ctl" -D "$SCALE_DIR/pg" -l "$SCALE_DIR/pg.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $SCALE_DIR -c fsync=off -c max_connections=200" start >/dev/null
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
    --dir "$SCALE_DIR" --pidfile "$SCALE_DIR/redis.pid" --logfile "$SCALE_DIR/redis.log"
  for _ in $(seq 1 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  as_postgres "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U voicebot voicebot 2>/dev/null || true
  echo "DATABASE_URL=postgres://voicebot@127.0.0.1:$PG_PORT/voicebot"
  echo "REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
}

stop() {
  [ -n "$PG_BIN" ] && [ -f "$SCALE_DIR/pg/postmaster.pid" ] && as_postgres "$PG_BIN/pg_ctl" -D "$SCALE_DIR/pg" -m fast stop >/dev/null || true
  [ -f "$SCALE_DIR/redis.pid" ] && kill "$(cat "$SCALE_DIR/redis.pid")" 2>/dev/null || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
