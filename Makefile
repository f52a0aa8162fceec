# The two commands of the README (run, test). Both install what is missing
# first and build with `cargo xtask build`, into the same target folder, so
# `make run` after `make test` (or the other way round) compiles nothing.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/codebook/target
TOOLS_DIR ?= $(HOME)/.cache/codebook/tools
export PATH := $(HOME)/.cargo/bin:$(TOOLS_DIR)/node_modules/.bin:$(PATH)

.PHONY: run test build release dev fmt

## Serve the app on http://127.0.0.1:3000 (embedded PostgreSQL unless DATABASE_URL is set).
run:
	scripts/run.sh

## Every test: fmt, clippy, unit, integration (real PostgreSQL), Playwright (JS on and off).
test:
	scripts/test.sh

## The site and the server, as `make run` and `make test` build them.
build:
	scripts/bootstrap.sh build
	cargo xtask build

## The site and a production server (`release` profile) in $(CARGO_TARGET_DIR)/release/server.
release:
	scripts/bootstrap.sh build
	cargo xtask build --release

## Rebuild and reload on every change with cargo-leptos (installed on first use, ~17 min).
## It writes the site under plain names; the next `make build` hashes them again.
dev:
	scripts/bootstrap.sh dev
	rm -f target/site/hash.txt
	cargo leptos watch --split

fmt:
	cargo fmt --all
