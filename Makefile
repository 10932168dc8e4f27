# Lin County skills voucher platform. Two commands for a newcomer: `make run` and `make test`.
SHELL := /bin/bash
UV_VERSION := 0.13.9
PYTHON ?= python3
# uv lives in a project-local tool venv, so a fresh machine needs nothing but Python 3.11.
UV := .tools/bin/uv

.PHONY: install run reset test test-sqlite demo bench asyncapi

# One locked, reproducible install of the whole workspace (uv.lock), Python 3.11. Bytecode is compiled here
# because machines that set PYTHONDONTWRITEBYTECODE otherwise recompile every import in every process a test
# or benchmark starts (~3 s of CPU per service process on this machine).
SOURCES := services/src voucher-service/src training-service/src certification-service/src subsidy-service/src testsupport/src bench tests
install: $(UV)
	@$(UV) sync --frozen --quiet --python 3.11 --compile-bytecode
	@.venv/bin/python -m compileall -q $(SOURCES) > /dev/null

$(UV):
	@$(PYTHON) -m venv .tools
	@.tools/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# Install, start the Tansu broker, every service on SQLite, the fake WeChat and the province real-name simulator
# (PROVINCE=0: not the simulator), print each API's docs URL; SEED=1 also seeds reference data. Ctrl-C stops it.
run: install
	@SEED=$(SEED) PROVINCE=$(PROVINCE) $(UV) run --frozen python -m skillkit.platform --var var

# Forget everything `make run` stored (the SQLite databases and logs in ./var); run it while the platform is stopped.
reset:
	@rm -rf var && echo "./var removed"

# The page tests (tests/subsidy/test_pages_browser.py) drive Debian's chromium with Playwright (which never downloads a
# browser of its own): chromium and the CJK fonts the pages need are installed from Debian's packages when missing
# (as root, else through sudo). Not a Debian machine: install chromium yourself and set SKILLS_CHROMIUM to its path.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@if [ -z "$$SKILLS_CHROMIUM" ] && ! dpkg -s chromium fonts-noto-cjk >/dev/null 2>&1; then \
	  echo "installing chromium and fonts-noto-cjk (Debian packages) for the page tests"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
	    chromium fonts-noto-cjk >/dev/null; \
	fi

# Install and pass the whole suite (PostgreSQL when reachable, else SQLite; CI insists on PostgreSQL), in two runs:
# everything but the chaos mark on TEST_WORKERS pytest-xdist workers (each its own session: its own databases,
# templates and broker), then the chaos mark alone, which needs the machine's cores to itself. Most of the suite
# waits (broker round trips, consumer group joins, service start-ups), so three workers pay on two cores:
# ~380 -> 169-188 s wall for 15-25 % more CPU (BENCHMARKS.md, "Suite time"). TEST_WORKERS=0: one process, as before.
TEST_WORKERS ?= 3
test: install browser
	@rc=0; \
	$(UV) run --frozen pytest -n $(TEST_WORKERS) -m "not chaos" || rc=$$?; \
	$(UV) run --frozen pytest -m chaos || rc=$$?; \
	exit $$rc

demo: install
	@$(UV) run --frozen python -m bench.demo

bench: install
	@$(UV) run --frozen python -m bench.voucher_claim
	@$(UV) run --frozen python -m bench.pipeline

asyncapi: install
	@$(UV) run --frozen python -m skillkit.asyncapi > docs/asyncapi.json
