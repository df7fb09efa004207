# Shorthands for the scripts in scripts/ (which work without make, too).
.PHONY: install run test test-fast services lint lock clean

install:
	./scripts/bootstrap.sh

run:
	./scripts/run.sh

test:
	./scripts/test.sh

# The fast loop: the embedded backend only (no PostgreSQL, Redis, browser or apt), no lint;
# under a minute on two quiet cores (without the OpenAPI fuzzer, so without its schemathesis
# plugin). CI runs everything (make test). Bytecode is cached even where the environment says
# PYTHONDONTWRITEBYTECODE (compiling every module again in each worker cost 5 s of its start).
test-fast: install
	env -u PYTHONDONTWRITEBYTECODE LIVECLASS_TEST_FAST=1 .venv/bin/pytest -n 2 -q -p no:cacheprovider -p no:schemathesis

# Regenerate the lock files from pyproject.toml (then commit them).
lock: install
	.venv/bin/pip-compile -q --strip-extras --no-emit-index-url --no-emit-find-links \
		-o requirements/run.txt pyproject.toml
	.venv/bin/pip-compile -q --strip-extras --no-emit-index-url --no-emit-find-links \
		--extra dev -o requirements/dev.txt pyproject.toml

services:
	./scripts/ensure-services.sh

lint: install
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy

clean:
	rm -rf .venv .venv-run .mypy_cache .ruff_cache .pytest_cache liveclass-data
