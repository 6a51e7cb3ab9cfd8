# The two commands: `make run` and `make test` (see README.md).
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
BIN := $(VENV)/bin
GRAPHIQL := web/graphiql

.PHONY: install run test test-deps test-sqlite test-postgres browser fuzz check format bench bench-all schema clean

install: $(VENV)/.installed $(GRAPHIQL)/node_modules/.installed

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet
	touch $@

# GraphiQL's files (api/graphiql.py serves them): the locked npm packages.
$(GRAPHIQL)/node_modules/.installed: $(GRAPHIQL)/package.json $(GRAPHIQL)/package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed for GraphiQL's files (README)" >&2; exit 1; }
	cd $(GRAPHIQL) && npm ci --no-audit --no-fund --silent
	touch $@

# Debian's chromium for the GraphiQL browser test, installed when missing (as root).
browser:
	.ci/chromium

run: install
	$(BIN)/invitations migrate
	$(BIN)/invitations seed-demo
	$(BIN)/invitations serve

check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The fuzz run comes before the test suites so that a run ends with pytest's own summaries. The
# SQLite and PostgreSQL runs go side by side (.ci/test-databases); `make test-sqlite` and
# `make test-postgres` run one of them alone.
test: check fuzz test-deps browser
	.ci/test-databases $(BIN)/pytest -q -p no:cacheprovider

# What some tests need besides Python, installed once before the suites run side by side (each
# test also installs it on first use when run alone).
test-deps: install
	@for lock in tests/*/package-lock.json; do \
	  dir=$$(dirname $$lock); \
	  [ -d $$dir/node_modules ] || (cd $$dir && npm ci --no-audit --no-fund --silent) || exit 1; \
	done

test-sqlite: install browser
	$(BIN)/pytest -q

test-postgres: install browser
	.ci/with-postgres $(BIN)/pytest -q

schema: install
	$(BIN)/invitations export-schema > schema.graphql

# About 90 s: schemathesis against a real server, anonymously, as a customer and as an admin.
fuzz: install
	$(BIN)/python -m tests.fuzz.run_fuzz --seconds 25

# `make bench` is the GraphQL-vs-hand-written table (issue 6); `make bench-all` runs every script.
bench: install
	$(BIN)/python bench/graphql.py

bench-all: install
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf .venv .tools var .mypy_cache .ruff_cache .pytest_cache $(GRAPHIQL)/node_modules
