#!/usr/bin/env bash
# The test command: installs and starts what the tests need when it is missing, one line each,
# then runs `dotnet test Tracelet.Actors.sln` with the arguments given (e.g. --filter "Category=Postgres").
#   gcc         builds the fake libnvidia-ml.so.1 the NVML and GPU collector tests load
#   prometheus  Debian's package: a real Prometheus scrapes the prometheus backend and GET /metrics
#   PostgreSQL  Debian's package on 127.0.0.1:5432 (user and password postgres), by .ci/start-postgres.sh
# Installing needs root: as root it runs apt-get itself, otherwise through sudo when there is one.
# apt-get update runs once, and only when something must be installed. TRACELET_TEST_POSTGRES set
# means the tests use that server: nothing is started for them.
set -euo pipefail
cd "$(dirname "$0")"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

say() { echo "test.sh: $*"; }
die() { echo "test.sh: $*" >&2; exit 1; }

if [[ "$(id -u)" -eq 0 ]]; then
  AS_ROOT=()
elif command -v sudo >/dev/null 2>&1; then
  AS_ROOT=(sudo)
else
  AS_ROOT=(missing)
fi

# What to run by hand when this script cannot install: the same commands it would have run.
cannot_install() {
  local what="$1" how="$2"
  die "$what is missing, and setting it up needs root: run ./test.sh as root (or where sudo works), or run \`$how\` as root first. Without it the tests that need it fail, saying so."
}

apt_updated=0
apt_install() {
  local what="$1"; shift
  command -v apt-get >/dev/null 2>&1 || die "$what is missing and there is no apt-get here: install $* with this system's package manager, then run ./test.sh again"
  [[ "${AS_ROOT[0]:-}" == missing ]] && cannot_install "$what" "apt-get update && apt-get install -y --no-install-recommends $*"
  local log
  log="$(mktemp)"
  if [[ "$apt_updated" -eq 0 ]]; then
    "${AS_ROOT[@]}" apt-get update -qq >"$log" 2>&1 || { cat "$log" >&2; die "apt-get update failed (above)"; }
    apt_updated=1
  fi
  "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >"$log" 2>&1 \
    || { cat "$log" >&2; die "apt-get install $* failed (above)"; }
  rm -f "$log"
}

# gcc: any cc will do.
if compiler="$(command -v cc || command -v gcc)"; then
  say "C compiler: found $compiler"
else
  apt_install "a C compiler (gcc)" gcc libc6-dev
  compiler="$(command -v cc || command -v gcc)" || die "no C compiler after apt-get install gcc"
  say "C compiler: installed Debian's gcc ($compiler)"
fi

# Prometheus: each test runs its own on a free port, so a service the package may start is unused.
prometheus="${TRACELET_PROMETHEUS:-/usr/bin/prometheus}"
if [[ -x "$prometheus" ]]; then
  say "Prometheus: found $prometheus"
else
  apt_install "Prometheus ($prometheus)" prometheus
  [[ -x "$prometheus" ]] || die "$prometheus is missing after apt-get install prometheus"
  say "Prometheus: installed Debian's prometheus ($prometheus)"
fi

# PostgreSQL: whatever listens on the default address is used as it is (the tests report a server
# they cannot log in to); otherwise .ci/start-postgres.sh starts Debian's server there.
pg_listening() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
pg_installed() { ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; }
if [[ -n "${TRACELET_TEST_POSTGRES:-}" ]]; then
  say "PostgreSQL: using the server TRACELET_TEST_POSTGRES names"
elif pg_listening; then
  say "PostgreSQL: a server is already listening on 127.0.0.1:5432"
else
  installed=""
  if ! pg_installed; then
    apt_install "PostgreSQL" postgresql
    installed="installed Debian's postgresql, "
  fi
  [[ "${AS_ROOT[0]:-}" == missing ]] && cannot_install "a running PostgreSQL on 127.0.0.1:5432" "bash .ci/start-postgres.sh"
  log="$(mktemp)"
  if ! connection="$("${AS_ROOT[@]}" bash .ci/start-postgres.sh 2>"$log" | tail -n 1)" || [[ -z "$connection" ]]; then
    cat "$log" >&2
    rm -f "$log"
    die "PostgreSQL did not start (.ci/start-postgres.sh, above)"
  fi
  rm -f "$log"
  say "PostgreSQL: ${installed}started by .ci/start-postgres.sh (stop: bash .ci/start-postgres.sh stop): $connection"
fi

exec dotnet test Tracelet.Actors.sln "$@"
