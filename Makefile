# onett: two commands on a fresh machine (python3 + make): `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/dagster_home
PORT ?= 3000

.PHONY: install run ui demo test clean

install: $(VENV)/.installed

# Re-installs only when the dependencies change; safe to run any number of times.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: install
	$(BIN)/onett demo
	$(BIN)/onett ingest
	$(BIN)/onett close --ended

run: demo
	@echo
	@echo "Dagster UI:  http://127.0.0.1:$(PORT)  (lineage: Assets > Global asset lineage; runs: Runs)"
	@echo "Warehouse:   $(DAGSTER_HOME)/onett.duckdb  (tables in README.md)"
	@echo "Statement:   $(BIN)/onett statement 한빛출판사"
	@echo "Stop with Ctrl-C."
	@echo
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(PORT)

ui: install
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(PORT)

test: install
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) dagster_home/landing dagster_home/revenue dagster_home/reference dagster_home/data \
	       dagster_home/onett.duckdb dagster_home/history dagster_home/schedules dagster_home/storage dagster_home/logs
