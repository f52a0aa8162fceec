# The two commands of the README. Both install what is missing first.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/codebook/target
TOOLS_DIR ?= $(HOME)/.cache/codebook/tools
export PATH := $(HOME)/.cargo/bin:$(TOOLS_DIR)/node_modules/.bin:$(PATH)

.PHONY: run test build release fmt

## Serve the app on http://127.0.0.1:3000 (embedded PostgreSQL unless DATABASE_URL is set).
run:
	scripts/bootstrap.sh run
	cargo leptos serve --release

## Every test: fmt, clippy, unit, integration (real PostgreSQL), Playwright (JS on and off).
test:
	scripts/test.sh

build:
	scripts/bootstrap.sh build
	cargo leptos build

release:
	scripts/bootstrap.sh run
	cargo leptos build --release

fmt:
	cargo fmt --all
