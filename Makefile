# Fresh machine: `make demo` (set up, then run the demo), `make test` (set up, then the whole test suite)
# and `make transcribe` (set up, then speech to text on the simulated NEP).
# Set-up is idempotent: a venv in .venv (created if absent), the package with its pinned dependencies
# (pyproject.toml; torch==2.13.0 resolves to the local CPU wheel), and the Debian packages the
# project needs, installed with apt-get when missing and running as root.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.edgeasr-installed

# ccache: Verilator rebuilds in ~2 s instead of ~10 s; liblz4-dev: FST waveforms;
# g++, make, perl: Verilator's build; python3-venv: the venv; the rest: speech synthesis for the corpus.
APT_PACKAGES := ccache liblz4-dev g++ make perl python3-venv \
	espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts sox

.PHONY: demo test transcribe setup system-packages

demo: setup
	$(VENV)/bin/edgeasr demo

test: setup
	$(PY) -m pytest -n 2 tests/

# The main job: the bundled example through the recognizer on the Verilator-simulated NEP.
transcribe: setup
	$(VENV)/bin/edgeasr transcribe host/examples/turn_on_the_kitchen_lights.wav --device verilator

setup: system-packages $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -e '.[test]'
	touch $(STAMP)

system-packages:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	  else \
	    echo "missing Debian packages:$$missing -- run as root, or: sudo apt-get install$$missing" >&2; exit 1; \
	  fi; \
	fi
