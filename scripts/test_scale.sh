#!/usr/bin/env bash
# The scale-out test profile (see Makefile `test-scale`). Starts PostgreSQL and Redis on loopback,
# runs the suite against them (browser tests excluded: they share the SQLite test file), then the
# multi-process tests in tests/scale/, and stops the services.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export SCALE_DIR=${SCALE_DIR:-$(mktemp -d /tmp/voicebot-scale.XXXXXX)}
trap './scripts/scale_services.sh stop' EXIT
eval "$(./scripts/scale_services.sh start | sed 's/^/export /')"
export CELERY_TASK_ALWAYS_EAGER=true   # the suite's own tasks run in-process; tests/scale starts a real worker
echo "scale profile: DATABASE_URL=$DATABASE_URL REDIS_URL=$REDIS_URL"
"$PY" -m pytest -m "not e2e" "$@"
