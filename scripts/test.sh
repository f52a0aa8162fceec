#!/usr/bin/env bash
# Every test: formatting, lints, unit and integration tests against a real
# PostgreSQL, then Playwright against the real server in Chromium with
# JavaScript on and off. Builds once, with `cargo xtask build` as `make run`
# does, into a target directory outside the clone so later runs (and
# `make run`) reuse it; Chromium and the test packages install meanwhile.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/codebook/target}
# wasm-opt, which scripts/bootstrap.sh installs with npm.
export PATH="${CODEBOOK_TOOLS_DIR:-$HOME/.cache/codebook/tools}/node_modules/.bin:$PATH"
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
started=$(date +%s)

test_tools_log=$(mktemp "${TMPDIR:-/tmp}/codebook-bootstrap.XXXXXX")
scripts/bootstrap.sh test >"$test_tools_log" 2>&1 &
test_tools=$!
scripts/bootstrap.sh build
# The Python with `standardwebhooks` and `schemathesis`, for the webhook
# verification test and the REST API schema test.
export CODEBOOK_PYTHON=${CODEBOOK_PYTHON:-${CODEBOOK_TOOLS_DIR:-$HOME/.cache/codebook/tools}/python/bin/python}

say "formatting"
cargo fmt --all -- --check

say "building the app (server + hydrate wasm + css), as make run does"
cargo xtask build

say "lints"
cargo clippy -p app -p server -p bench --all-targets -- -D warnings
cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings
# Alone: built with the server, its dependencies' features would unify with
# the server's and the tests would compile a second server.
cargo clippy -p xtask --all-targets -- -D warnings

say "waiting for the test tools (Chromium, Playwright, Python packages)"
if ! wait "$test_tools"; then
  cat "$test_tools_log" >&2
  echo "test: installing the test tools failed (above)" >&2
  exit 1
fi
rm -f "$test_tools_log"

# A cluster the integration tests may create databases in: DATABASE_URL if
# given, else this machine's server on 127.0.0.1:5432, else an embedded one.
if [ -z "${DATABASE_URL:-}" ]; then
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
  else
    say "no PostgreSQL on 127.0.0.1:5432: starting an embedded cluster in .data/test-postgres"
    mkdir -p .data && chmod 755 .data
    # A throw-away test cluster: fsync off makes the tests faster.
    export CODEBOOK_EMBEDDED_FSYNC=false
    DATABASE_URL=$("$CARGO_TARGET_DIR/debug/server" embedded-db --data-dir .data/test-postgres)
    export DATABASE_URL
    trap '"$CARGO_TARGET_DIR/debug/server" embedded-db --data-dir .data/test-postgres --stop >/dev/null 2>&1 || true' EXIT
  fi
fi

drop_test_databases() {
  psql "$DATABASE_URL" -Atqc "select datname from pg_database where datname like 'cb_test_%'" |
    while read -r db; do psql "$DATABASE_URL" -qc "drop database if exists \"$db\" with (force)" >/dev/null; done
  psql "$DATABASE_URL" -Atqc "select rolname from pg_roles where rolname like 'cb_test_%'" |
    while read -r role; do psql "$DATABASE_URL" -qc "drop role if exists \"$role\"" >/dev/null; done
}
drop_test_databases

say "unit and integration tests"
cargo nextest run -p xtask
cargo nextest run -p app -p server -p bench --no-fail-fast
drop_test_databases

say "end-to-end tests (Chromium; JavaScript on and off)"
(cd end2end && npx playwright test)

say "all tests passed in $(( $(date +%s) - started )) s"
