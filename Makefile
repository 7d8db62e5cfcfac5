# The two set-up commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format bench clean messages screenshots

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/shopflow migrate
	$(BIN)/shopflow demo
	SHOPFLOW_EMAIL_PROVIDER=$${SHOPFLOW_EMAIL_PROVIDER:-log} SHOPFLOW_SANDBOX=$${SHOPFLOW_SANDBOX:-true} \
		$(BIN)/shopflow serve --with-worker --host $(HOST) --port $(PORT)

# With SHOPFLOW_TEST_DATABASE_URL (CI) the suite runs on PostgreSQL and, beside it in a second
# process, on SQLite: a hot statement's PostgreSQL text and its SQLAlchemy fallback both run on every
# commit, in the time of the longer pass (one pass waits on PostgreSQL while the other computes). The
# SQLite pass's output follows the PostgreSQL one; the target fails if either pass fails.
test: $(STAMP)
	$(BIN)/ruff check src tests bench tools migrations
	$(BIN)/ruff format --check src tests bench tools migrations
	@if [ -z "$$SHOPFLOW_TEST_DATABASE_URL" ]; then exec $(BIN)/pytest; fi; \
	log=$$(mktemp); \
	SHOPFLOW_TEST_DATABASE_URL= $(BIN)/pytest -p no:cacheprovider >"$$log" 2>&1 & lite=$$!; \
	echo "pytest on PostgreSQL, and on SQLite beside it (pid $$lite)"; \
	$(BIN)/pytest; pg=$$?; \
	wait $$lite; sqlite=$$?; \
	echo "--- the same suite on SQLite (exit $$sqlite) ---"; cat "$$log"; rm -f "$$log"; \
	test $$pg -eq 0 -a $$sqlite -eq 0

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools migrations

format: $(STAMP)
	$(BIN)/ruff format src tests bench tools migrations
	$(BIN)/ruff check --fix src tests bench tools migrations

# The console's message catalogs: extract every marked text, merge it into zh_CN and en
# (then translate the new entries in src/shopflow/web/locale/zh_CN/LC_MESSAGES/messages.po).
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k label:1c,2 --no-location --sort-output --project Shopflow -o .messages.pot .
	$(BIN)/pybabel update -i .messages.pot -d src/shopflow/web/locale --no-fuzzy-matching --ignore-obsolete
	rm -f .messages.pot

# PNGs of the console's main pages in both languages (needs /usr/bin/chromium).
screenshots: $(STAMP)
	$(BIN)/python tools/screenshots.py

# Every benchmark with its default sizes (docs/performance.md); each creates the PostgreSQL
# database it names when missing and WIPES it (bench/analytics.py keeps its data for the next run
# and needs the `bench` extra: DuckDB and pyarrow).
bench: $(STAMP)
	$(BIN)/pip install --quiet -e ".[test,bench]"
	$(BIN)/python bench/order_intake.py
	$(BIN)/python bench/place_and_pay.py
	$(BIN)/python bench/refunds.py
	$(BIN)/python bench/fulfillment.py
	$(BIN)/python bench/sla_sweep.py
	$(BIN)/python bench/console_pages.py
	$(BIN)/python bench/analytics.py
	$(BIN)/python bench/forecast.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis shopflow.db shopflow.db-wal shopflow.db-shm
