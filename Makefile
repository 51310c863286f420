# The two commands: `make run` (Studio on SQLite, in-memory channels, eager Celery) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PORT ?= 8000

.PHONY: run test test-scale lint format bench install install-dev migrate worker clean-expired

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: $(PY) requirements.txt requirements-voice.txt
	$(PIP) install -q -r requirements.txt -r requirements-voice.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PIP) install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(PY) scripts/bootstrap_env.py
	$(PY) scripts/fetch_smart_turn.py
	$(PY) manage.py migrate --noinput

run: migrate
	$(PY) manage.py voicebot_bootstrap_admin
	$(VENV)/bin/uvicorn config.asgi:application --host 127.0.0.1 --port $(PORT) --no-proxy-headers --ws-max-size 1048576

test: install-dev
	./scripts/install_system_packages.sh
	$(PY) scripts/fetch_smart_turn.py
	$(PY) -m pytest

# Scale-out profile: PostgreSQL + Redis on 127.0.0.1 (Debian packages), the suite against them with
# channels-redis and the Redis cache, then two uvicorn processes and a Celery worker (tests/scale/).
test-scale: install-dev
	./scripts/install_system_packages.sh
	./scripts/test_scale.sh

lint: install-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install-dev
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: install-dev
	./scripts/install_system_packages.sh
	$(PY) scripts/fetch_smart_turn.py
	$(PY) -m tests.bench

worker: install
	$(VENV)/bin/celery -A config worker -B -l info

clean-expired: install
	$(PY) manage.py voicebot_cleanup
