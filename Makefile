# Shorthands for the scripts in scripts/ (which work without make, too).
.PHONY: install run test services lint clean

install:
	./scripts/bootstrap.sh

run:
	./scripts/run.sh

test:
	./scripts/test.sh

services:
	./scripts/ensure-services.sh

lint: install
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache liveclass-data
