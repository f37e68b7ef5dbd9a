# tongban — every developer and CI task goes through these targets.
# Only Python 3.11+, pip and make are assumed; everything else is installed here.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEMO_DIR ?= .demo

.DEFAULT_GOAL := help
.PHONY: help setup browser demo test check lint format bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "tongban needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

setup: $(STAMP) browser ## Create .venv and install tongban with its development tools
	@# The dashboard's charting library comes from the npm registry, never from the repository.
	@if command -v npm >/dev/null 2>&1; then \
		cd web/charts && npm install --no-package-lock --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: dashboard charts are off (the tables still work)"; fi

# The browser test drives Debian's chromium through Playwright; Playwright never downloads one.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; else SUDO=none; fi; \
		if [ "$$SUDO" != none ] && command -v apt-get >/dev/null; then \
			echo "Installing Debian's chromium and fonts-noto-cjk for the browser test"; \
			$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium fonts-noto-cjk \
			|| echo "Could not install chromium; the browser test will be skipped (install it with apt-get install chromium fonts-noto-cjk)."; \
		else \
			echo "No /usr/bin/chromium and no way to install it here; the browser test will be skipped (apt-get install chromium fonts-noto-cjk)."; \
		fi; \
	fi

demo: setup ## Start a county centre, a township and a community node with demo data
	$(BIN)/tongban demo --data $(DEMO_DIR)

test: setup ## Run the whole test suite
	$(BIN)/python -m pytest

lint: setup ## ruff, ruff format --check, mypy and the import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

check: lint test ## Everything a commit must pass: lint, types, import contracts, tests

format: setup ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

POUCH_BENCH := bench/sync

# The PouchDB reference of the replication benchmark; reinstalled only when its manifest changes.
$(POUCH_BENCH)/node_modules/.package-lock.json: $(POUCH_BENCH)/package.json $(POUCH_BENCH)/package-lock.json
	cd $(POUCH_BENCH) && npm install --no-audit --no-fund
	@touch $@

bench: setup $(POUCH_BENCH)/node_modules/.package-lock.json ## Run the benchmarks and write bench/results.md
	$(BIN)/python -m tests.bench

clean: ## Remove the virtualenv, caches, demo data and the benchmark's npm packages
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache \
		bench/sync/node_modules
