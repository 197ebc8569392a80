PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test lint bench clean lock browser

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,test]'
	touch $(STAMP)

dev: $(STAMP)
	$(BIN)/flowdesk dev

test: $(STAMP) browser
	$(BIN)/pytest -q

# The browser that tests/test_graphiql.py drives: Debian's Chromium (Playwright's own
# download needs more than the package registries).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy engine api schema resolvers workers templates tests bench
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m bench

# Re-pin every installed version after a dependency changes in pyproject.toml.
lock: $(STAMP)
	(head -1 constraints.txt && $(BIN)/pip freeze --exclude-editable) > constraints.new
	mv constraints.new constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
