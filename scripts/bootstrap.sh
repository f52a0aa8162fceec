#!/usr/bin/env bash
# Installs what building, serving and testing Codebook needs, skipping
# whatever is already there. Offline-safe: everything comes from crates.io,
# npm or Debian's packages (see the README's set-up section). Each group installs its
# parts side by side; the scripts run the slow groups while cargo compiles.
#
#   scripts/bootstrap.sh build   the wasm32 target and binaryen's wasm-opt
#                                (what `cargo xtask build` needs)
#   scripts/bootstrap.sh serve   PostgreSQL's server binaries (the embedded
#                                database of `make run`)
#   scripts/bootstrap.sh test    + Chromium, the Playwright packages, and a
#                                Python venv with standardwebhooks and
#                                schemathesis
#   scripts/bootstrap.sh dev     cargo-leptos and wasm-bindgen-cli, only for
#                                `make dev` (about 17 minutes, once)
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:?usage: $0 build|serve|test|dev}
CARGO_LEPTOS_VERSION=0.3.4
BINARYEN_VERSION=132.0.0
SCHEMATHESIS_VERSION=4.32.5
TOOLS_DIR=${CODEBOOK_TOOLS_DIR:-$HOME/.cache/codebook/tools}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

ensure_wasm_target() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
}

ensure_cargo_leptos() {
  if [ "$(cargo leptos --version 2>/dev/null | awk '{print $2}')" != "$CARGO_LEPTOS_VERSION" ]; then
    # 0.3.4 is the newest that builds on Rust 1.95 (about 14 minutes, once).
    say "installing cargo-leptos $CARGO_LEPTOS_VERSION"
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
  fi
}

ensure_wasm_bindgen() {
  # The CLI must be exactly the version of the wasm-bindgen crate in Cargo.lock.
  local want
  want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, "", $0); print; exit }' Cargo.lock)
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
    say "installing wasm-bindgen-cli $want"
    cargo install wasm-bindgen-cli --version "$want"
  fi
}

ensure_wasm_opt() {
  # Debian's binaryen is too old for today's wasm; npm's works.
  if [ ! -x "$TOOLS_DIR/node_modules/.bin/wasm-opt" ]; then
    say "installing binaryen $BINARYEN_VERSION (wasm-opt) into $TOOLS_DIR"
    mkdir -p "$TOOLS_DIR"
    npm install --prefix "$TOOLS_DIR" --no-save --no-audit --no-fund "binaryen@$BINARYEN_VERSION" >&2
  fi
}

# Debian's packages, in one apt-get (apt allows one at a time): PostgreSQL's
# server binaries if there are none, and Chromium for the browser tests.
ensure_debian_packages() {
  local wanted=()
  if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    wanted+=(postgresql)
  fi
  if [ "${1:-}" = with-chromium ] && [ ! -x /usr/bin/chromium ]; then
    wanted+=(chromium)
  fi
  if [ ${#wanted[@]} -gt 0 ]; then
    say "installing ${wanted[*]} from Debian"
    as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${wanted[@]}" >&2
  fi
}

ensure_playwright() {
  # Never `npx playwright install`: it downloads a browser; we use Debian's.
  if [ ! -d end2end/node_modules/@playwright/test ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
    say "installing the Playwright packages"
    (cd end2end && npm ci --no-audit --no-fund >&2)
  fi
}

ensure_standardwebhooks() {
  # The webhook tests verify deliveries with the Standard Webhooks reference
  # library, as a customer's receiver would; a venv keeps it off the system.
  if ! "$TOOLS_DIR/python/bin/python" -c 'import standardwebhooks' 2>/dev/null; then
    say "installing the Python standardwebhooks package into $TOOLS_DIR/python"
    mkdir -p "$TOOLS_DIR"
    python3 -m venv "$TOOLS_DIR/python" >&2 ||
      { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2 &&
        python3 -m venv "$TOOLS_DIR/python" >&2; }
    "$TOOLS_DIR/python/bin/pip" install -q --disable-pip-version-check standardwebhooks >&2
  fi
}

ensure_schemathesis() {
  # The REST API is checked against its own OpenAPI document by
  # schemathesis (server/tests/api/rest_schema.rs), in the same venv.
  if [ "$("$TOOLS_DIR/python/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null)" != "$SCHEMATHESIS_VERSION" ]; then
    say "installing schemathesis $SCHEMATHESIS_VERSION into $TOOLS_DIR/python"
    "$TOOLS_DIR/python/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" >&2
  fi
}

# Runs the given installers side by side; fails if any of them failed.
in_parallel() {
  local pids=() failed=0
  for step in "$@"; do $step & pids+=($!); done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  return $failed
}

python_tools() { ensure_standardwebhooks && ensure_schemathesis; }
dev_tools() { ensure_cargo_leptos && ensure_wasm_bindgen; }

case "$what" in
  build) in_parallel ensure_wasm_target ensure_wasm_opt ;;
  serve) ensure_debian_packages ;;
  test) in_parallel "ensure_debian_packages with-chromium" ensure_playwright python_tools ;;
  dev) in_parallel ensure_wasm_target dev_tools ;;
  *) echo "usage: $0 build|serve|test|dev" >&2; exit 2 ;;
esac
