# Two commands: `make run` starts the whole system on embedded defaults, `make test` passes all tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-slow lint format clean translations

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m portal.devserver

# The suite on one worker more than the cores (tests also wait on Redis, processes and sleeps;
# at most 4: each worker claims one of Redis's 15 spare databases), without the benchmarks
# marked slow; `make test-slow` runs those one at a time, as CI does.
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print(min(4, (os.cpu_count() or 1) + 1))")
PYTEST_ARGS ?= -m "not slow"
test: $(STAMP) lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS_SLOW)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Extract every sentence of the code and templates, merge it into each language's catalog
# (portal/translations/<lang>/LC_MESSAGES/messages.po), then compile the .mo files the app reads.
# New sentences arrive untranslated: translate them in the .po and run this again.
POT := portal/translations/messages.pot
BABEL_KEYWORDS := -k _l -k N_ -k N_plural:1,2 -k lazy_ngettext:1,2 -k lazy_pgettext:1c,2
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg $(BABEL_KEYWORDS) --no-location --no-wrap --sort-output \
		--project=Gatehouse --msgid-bugs-address="" -o $(POT) portal jobs templates
	$(BIN)/pybabel update --no-fuzzy-matching --ignore-obsolete --no-wrap \
		-i $(POT) -d portal/translations
	$(BIN)/pybabel compile --statistics -d portal/translations

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
