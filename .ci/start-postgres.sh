#!/usr/bin/env bash
# Starts a local PostgreSQL for the "Postgres" test category: listens on 127.0.0.1:5432, user
# postgres, password postgres, and prints its Npgsql connection string as the last line on stdout
# (progress goes to stderr). Idempotent: installs Debian's package only when no server binaries
# are found, initialises /tmp/tracelet-pg only once, starts the server only when it is not
# running, and (re)sets the password every time. Needs root (it runs the server as the postgres
# user). `bash .ci/start-postgres.sh stop` stops the server it started.
set -euo pipefail

DATA_DIR="${TRACELET_PG_DATA:-/tmp/tracelet-pg}"
PORT="${TRACELET_PG_PORT:-5432}"
LOG_FILE="$DATA_DIR.log"

find_bin_dir() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [[ -x "$dir/pg_ctl" && -x "$dir/initdb" ]]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

BIN_DIR="$(find_bin_dir || true)"
if [[ "${1:-}" == "stop" && -z "$BIN_DIR" ]]; then
  echo "PostgreSQL is not installed: nothing to stop" >&2
  exit 0
fi
if [[ -z "$BIN_DIR" ]]; then
  echo "PostgreSQL binaries not found; installing Debian's postgresql package" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
  BIN_DIR="$(find_bin_dir)"
fi

# The server refuses to run as root: run everything as the postgres user.
if ! id postgres >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi
as_postgres() {
  if [[ "$(id -un)" == "postgres" ]]; then
    "$@"
  elif command -v runuser >/dev/null 2>&1; then
    runuser -u postgres -- "$@"
  else
    su postgres -s /bin/bash -c "$(printf '%q ' "$@")"
  fi
}

if [[ "${1:-}" == "stop" ]]; then
  if [[ -f "$DATA_DIR/PG_VERSION" ]] && as_postgres "$BIN_DIR/pg_ctl" -D "$DATA_DIR" status >/dev/null 2>&1; then
    as_postgres "$BIN_DIR/pg_ctl" -D "$DATA_DIR" -w -m fast stop >/dev/null
    echo "PostgreSQL in $DATA_DIR stopped" >&2
  else
    echo "PostgreSQL in $DATA_DIR is not running" >&2
  fi
  exit 0
fi

mkdir -p "$DATA_DIR"
chown postgres:postgres "$DATA_DIR"
chmod 700 "$DATA_DIR"
touch "$LOG_FILE"
chown postgres:postgres "$LOG_FILE"

if [[ ! -f "$DATA_DIR/PG_VERSION" ]]; then
  echo "Initialising a PostgreSQL cluster in $DATA_DIR" >&2
  as_postgres "$BIN_DIR/initdb" -D "$DATA_DIR" -U postgres --auth-local=trust --auth-host=scram-sha-256 >/dev/null
fi

if ! as_postgres "$BIN_DIR/pg_ctl" -D "$DATA_DIR" status >/dev/null 2>&1; then
  echo "Starting PostgreSQL on 127.0.0.1:$PORT (log: $LOG_FILE)" >&2
  # The socket goes to the data directory: /var/run/postgresql may not exist or be writable.
  as_postgres "$BIN_DIR/pg_ctl" -D "$DATA_DIR" -l "$LOG_FILE" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA_DIR" start >/dev/null
fi

for _ in $(seq 1 60); do
  if "$BIN_DIR/pg_isready" -h 127.0.0.1 -p "$PORT" -q; then
    break
  fi
  sleep 1
done
if ! "$BIN_DIR/pg_isready" -h 127.0.0.1 -p "$PORT" -q; then
  echo "PostgreSQL did not become ready on 127.0.0.1:$PORT; see $LOG_FILE" >&2
  tail -n 20 "$LOG_FILE" >&2 || true
  exit 1
fi

# Over the local socket (trust), so this works whatever the password was.
as_postgres "$BIN_DIR/psql" -h "$DATA_DIR" -p "$PORT" -U postgres -d postgres -q -v ON_ERROR_STOP=1 \
  -c "ALTER USER postgres WITH PASSWORD 'postgres';" >/dev/null
echo "PostgreSQL ready in $DATA_DIR (log: $LOG_FILE)" >&2
echo "Host=127.0.0.1;Port=$PORT;Username=postgres;Password=postgres;Database=postgres"
