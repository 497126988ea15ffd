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

.PHONY: html slides test test-fast fuzz serve lab bench notebooks clean

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
# SLIDES=0: the pages only, without the slide decks (the tests' tiny one-section books).
SLIDES ?= 1
html: $(STAMP) $(NPM_STAMP)
	$(BIN)/jupyter-book build $(BOOK) $(JB_FLAGS)
	$(if $(filter 1,$(SLIDES)),$(BIN)/python book/_ext/slides.py build $(BOOK)/$(SITE))
	@echo "Built $(BOOK)/$(SITE)/index.html$(if $(filter 1,$(SLIDES)), and slides/)"

# One reveal.js deck per chapter, cut from the built pages (book/_ext/slides.py): titles, prose,
# equations and every Explorer, no code; at _build/html/slides/<chapter>.html, linked by a
# "Slides" button on each chapter page, offline (reveal.js copied from the sphinx-revealjs
# package). Fails on a missing chapter page, a page without sections, an off-site load.
# `make html` builds them with the pages (the site serves them); this target names that step.
slides: html
	@ls $(BOOK)/$(SITE)/slides/*.html

# Everything: kernels against references, live explorers, and the built site and its slide
# decks in Chromium.
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

# The chapters live in JupyterLab, as on Binder (same packages: binder/requirements.txt reads
# requirements.txt; same settings: binder/overrides.json opens .md chapters as notebooks through
# jupytext). Offline: nothing is fetched at run time (no news, no update check).
# LAB_TOKEN empty: the server makes one and prints the URL with it. LAB_DIR: the folder served.
LAB_PORT  ?= 8888
LAB_TOKEN ?=
LAB_DIR   ?= .
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json
$(LAB_SETTINGS): binder/overrides.json $(STAMP)
	mkdir -p $(dir $@)
	cp binder/overrides.json $@

lab: $(STAMP) $(LAB_SETTINGS)
	@echo "JupyterLab on http://127.0.0.1:$(LAB_PORT)/lab  (open book/*.md; Ctrl-C twice stops)"
	exec $(BIN)/jupyter lab --no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port=$(LAB_PORT) \
	  --ServerApp.port_retries=0 --ServerApp.root_dir="$(LAB_DIR)" \
	  $(if $(LAB_TOKEN),--IdentityProvider.token=$(LAB_TOKEN)) \
	  $(if $(filter 0,$(shell id -u)),--ServerApp.allow_root=True) \
	  --LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate \
	  --LabApp.extra_labextensions_path="$(CURDIR)/binder/labextensions"

bench: html
	$(BIN)/python bench/run_all.py

# Paired .ipynb copies (no outputs) for Colab and Binder launch buttons; tests check they match.
# First each chapter's setup cell is rewritten from repository.url in _config.yml (the one place
# the address is written): Colab has only the .ipynb, so the install spec must be inside it.
notebooks: $(STAMP)
	$(BIN)/python book/_ext/launch.py
	$(BIN)/jupytext --update --to ipynb $(CHAPTERS)  # --update keeps the cells' ids

clean:
	rm -rf _build
