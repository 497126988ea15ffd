# Two commands on a fresh machine:  `make html` builds the book, `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SITE   := _build/html
PORT   ?= 8000
BOOK   ?= .
# Warnings (a failing cell raises one) and broken references fail the build.
JB_FLAGS := --warningiserror --nitpick --keep-going
CHAPTERS := $(wildcard book/*.md)

.PHONY: html test test-fast fuzz serve bench notebooks clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

# The site's browser assets from npm, as package-lock.json pins them: plotly.js (bundled with
# esbuild by book/_ext/plotly_bundle.py, only the trace types the book draws) and KaTeX (math
# typeset at build time); node_modules/ is never committed.
NPM_STAMP := node_modules/.package-lock.json
$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	touch $@

# Executes every chapter (cached; the cache is wiped when kernels/ changes) and fails on a
# failing cell, a Sphinx warning or a broken reference.
html: $(STAMP) $(NPM_STAMP)
	$(BIN)/jupyter-book build $(BOOK) $(JB_FLAGS)
	@echo "Built $(BOOK)/$(SITE)/index.html"

# Everything: kernels against references, live explorers, and the built site in Chromium.
test: html
	$(BIN)/python -m pytest

# Without the browser tests (no build needed).
test-fast: $(STAMP) $(NPM_STAMP)
	$(BIN)/python -m pytest -m "not browser"

# Property tests (hypothesis) of every op against its reference, with many more examples.
fuzz: $(STAMP)
	$(BIN)/python -m pytest -m property --hypothesis-profile=fuzz

serve:
	@test -f $(SITE)/index.html || { echo "Run 'make html' first"; exit 1; }
	@echo "Serving the book at http://localhost:$(PORT)/  (Ctrl-C stops)"
	$(PYTHON) -m http.server $(PORT) --bind 127.0.0.1 --directory $(SITE)

bench: html
	$(BIN)/python bench/run_all.py

# Paired .ipynb copies (no outputs) for Colab and Binder launch buttons; tests check they match.
notebooks: $(STAMP)
	$(BIN)/jupytext --to ipynb $(CHAPTERS)

clean:
	rm -rf _build
