#!/usr/bin/env bash
# Starts the already-built Codebook server for the Playwright tests
# (end2end/playwright.config.ts runs this as its webServer).
#
# The server listens on 127.0.0.1:3100 in development mode and, as no
# DATABASE_URL is set, runs its own embedded PostgreSQL cluster in a fresh
# temporary data directory, which is removed again when the server stops.
set -euo pipefail

cd "$(dirname "$0")/.."
repo_root="$(pwd)"

target_dir="${CARGO_TARGET_DIR:-$HOME/.cache/codebook/target}"
case "$target_dir" in
  /*) ;;
  *) target_dir="$repo_root/$target_dir" ;;
esac
server_bin="$target_dir/debug/server"

if [[ ! -x "$server_bin" ]]; then
  echo "e2e-server: the server binary $server_bin is missing; run \`make build\` first." >&2
  exit 1
fi
if [[ ! -d target/site/pkg ]]; then
  echo "e2e-server: warning: $repo_root/target/site/pkg is missing (no wasm/css); run \`make build\` first." >&2
fi

data_dir="$(mktemp -d "${TMPDIR:-/tmp}/codebook-e2e.XXXXXX")"
# The embedded cluster may run as the `postgres` OS user, which must be able
# to enter this directory.
chmod 755 "$data_dir"

server_pid=""

# Stops any PostgreSQL postmaster still running out of the data directory
# (only if the server itself died without stopping its cluster).
stop_leftover_postgres() {
  local pidfile pid i
  while IFS= read -r -d '' pidfile; do
    pid="$(head -n 1 "$pidfile" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || continue
    kill -0 "$pid" 2>/dev/null || continue
    echo "e2e-server: stopping leftover PostgreSQL (pid $pid)" >&2
    kill -QUIT "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  done < <(find "$data_dir" -name postmaster.pid -print0 2>/dev/null)
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  stop_leftover_postgres
  rm -rf -- "$data_dir"
  exit "$status"
}

# Forward a stop request to the server; it shuts down (and stops its
# embedded cluster) on SIGTERM. SIGINT is forwarded as SIGTERM because a
# background job of a non-interactive shell starts with SIGINT ignored.
forward_stop() {
  if [[ -n "$server_pid" ]]; then
    kill -TERM "$server_pid" 2>/dev/null || true
  fi
}

trap cleanup EXIT
trap forward_stop INT TERM

unset DATABASE_URL APP_DATABASE_URL
export LEPTOS_SITE_ADDR=127.0.0.1:3100
export LEPTOS_SITE_ROOT=target/site
export LEPTOS_OUTPUT_NAME="${LEPTOS_OUTPUT_NAME:-codebook}"
export CODEBOOK_MODE=development
export CODEBOOK_DATA_DIR="$data_dir"
# A throw-away cluster: no need to sync it to disk.
export CODEBOOK_EMBEDDED_FSYNC=false
export CODEBOOK_MAIL_OUTBOX_DIR="$data_dir/mail"
# One platform admin per Playwright project (see end2end/tests/platform.spec.ts);
# the list works in development mode only.
export CODEBOOK_PLATFORM_ADMINS=platform-admin-js-on@example.com,platform-admin-js-off@example.com
export RUST_LOG="${RUST_LOG:-info}"

echo "e2e-server: starting $server_bin serve on http://$LEPTOS_SITE_ADDR (data dir $data_dir)" >&2
"$server_bin" serve &
server_pid=$!

# `wait` returns early when a trapped signal arrives; keep waiting until the
# server has really exited, then pass on its exit status.
status=0
while true; do
  if wait "$server_pid"; then
    status=0
  else
    status=$?
  fi
  kill -0 "$server_pid" 2>/dev/null || break
done
server_pid=""
exit "$status"
