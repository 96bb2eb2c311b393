# onett: two commands on a fresh machine (python3 + make): `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/dagster_home
PORT ?= 3000
PORTAL_PORT ?= 8080

.PHONY: install run ui portal demo test system-deps clean

install: $(VENV)/.installed

# Re-installs only when the dependencies change; safe to run any number of times.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,test,ray]'
	touch $@

demo: install
	$(BIN)/onett demo
	$(BIN)/onett ingest
	$(BIN)/onett close --ended

# The portal runs in the background beside `dagster dev`; Ctrl-C (or dagster dev ending) stops both.
run: demo
	@echo
	@echo "Dagster UI:  http://127.0.0.1:$(PORT)  (lineage: Assets > Global asset lineage; runs: Runs)"
	@echo "Portal:      http://127.0.0.1:$(PORTAL_PORT)  (contributors and operators; accounts first:"
	@echo "             $(BIN)/onett account add NAME --role contributor --contributor 한빛출판사 / --role operator)"
	@echo "Warehouse:   $(DAGSTER_HOME)/onett.duckdb  (tables in README.md)"
	@echo "Statement:   $(BIN)/onett statement 한빛출판사"
	@echo "Stop with Ctrl-C."
	@echo
	@ONETT_DAGSTER_URL=$${ONETT_DAGSTER_URL:-http://127.0.0.1:$(PORT)} $(BIN)/onett portal --host 127.0.0.1 --port $(PORTAL_PORT) & \
	portal=$$!; trap 'kill $$portal 2>/dev/null; wait $$portal 2>/dev/null' EXIT INT TERM; \
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(PORT)

# The portal alone (the Dagster UI's lineage links then point at ONETT_DAGSTER_URL).
portal: install
	$(BIN)/onett portal --host 127.0.0.1 --port $(PORTAL_PORT)

ui: install
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(PORT)

test: install system-deps
	$(BIN)/python -m pytest

# Best effort, for the tests only: Debian's Chromium (portal browser tests), PostgreSQL (scale-out test), and
# LibreOffice with a Korean font and English hyphenation patterns (renders the PDF/DOCX/EPUB/HTML test documents
# from known text).
# Installed only when missing and when running as root with apt; without them those tests skip with a reason.
system-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	    && { [ ! -x /usr/bin/chromium ] || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
	         || [ ! -x /usr/bin/soffice ] || [ ! -d /usr/share/fonts/truetype/nanum ] || [ ! -d /usr/share/hyphen ]; }; then \
	  echo "installing Debian chromium, postgresql, libreoffice and fonts-nanum for the browser, scale-out and document tests ..."; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq chromium postgresql \
	    && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq --no-install-recommends \
	      libreoffice-writer-nogui fonts-nanum hyphen-en-us; } \
	    >/dev/null 2>&1 || echo "could not install them: the browser, scale-out and document tests will be skipped"; \
	fi

clean:
	rm -rf $(VENV) dagster_home/landing dagster_home/revenue dagster_home/reference dagster_home/data \
	       dagster_home/onett.duckdb dagster_home/onett.duckdb.tmp dagster_home/portal.sqlite* dagster_home/history dagster_home/schedules dagster_home/storage dagster_home/logs
