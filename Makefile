# Two commands: `make run` starts the whole system on embedded defaults, `make test` passes all tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format clean translations

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m portal.devserver

test: $(STAMP) lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

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
