# onelive: the two commands of the README are `make demo` and `make test`.
CARGO ?= cargo

.PHONY: demo test deps fmt lint unit doc package bench container-test

deps:
	@bash scripts/install-deps.sh

## Runs the recorder on an embedded demo (synthetic live channel on loopback).
demo: deps
	$(CARGO) run --locked --release -p oneliverec -- demo

## Every check and every test.
test: deps fmt lint unit doc package

fmt:
	$(CARGO) fmt --all --check

lint:
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

unit:
	$(CARGO) test --locked --workspace --no-fail-fast

doc:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --locked --workspace --no-deps

## The published crates must package as they are.
package:
	$(CARGO) package --locked --allow-dirty -p onelive-events

## Benchmarks print their figures; they are not part of `make test`.
bench:
	$(CARGO) bench --workspace

## Builds the image with podman on local base images and runs compose.yaml as a user
## would (scripts/container-test.sh, docs/docker.md); root, ~30 min cold. Not part of
## `make test`. KEEP=1 keeps the base images and layer cache for a faster next run.
container-test:
	bash scripts/container-test.sh
