#!/usr/bin/env bash
# `make run`: builds the app (what is missing is installed first; the
# database binaries install while cargo compiles) and serves it on
# http://127.0.0.1:3000 — with an embedded PostgreSQL unless DATABASE_URL
# is set. The server is the very binary `make test` tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/codebook/target}
# wasm-opt, which scripts/bootstrap.sh installs with npm.
export PATH="${CODEBOOK_TOOLS_DIR:-$HOME/.cache/codebook/tools}/node_modules/.bin:$PATH"

log=$(mktemp "${TMPDIR:-/tmp}/codebook-bootstrap.XXXXXX")
scripts/bootstrap.sh serve >"$log" 2>&1 &
serve_tools=$!

scripts/bootstrap.sh build
cargo xtask build

if ! wait "$serve_tools"; then
  cat "$log" >&2
  echo "run: installing the database binaries failed (above)" >&2
  exit 1
fi
rm -f "$log"
exec "$CARGO_TARGET_DIR/debug/server" serve "$@"
