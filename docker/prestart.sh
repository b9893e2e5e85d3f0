#!/bin/sh
# Wait for the database, migrate, build the knowledge store and index, then serve.
set -e
python - <<'PY'
import time
from sqlalchemy import create_engine, text
from settings import get_settings
url = get_settings().database_url
for _ in range(60):
    try:
        with create_engine(url).connect() as c:
            c.execute(text("select 1"))
        break
    except Exception:
        time.sleep(1)
PY
python -m knowledge build
# Several uvicorn workers: each writes its metrics here and /metrics sums them (api/observability.py).
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-/tmp/prometheus}"
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
exec python -m uvicorn api.main:app --host "${HOST:-0.0.0.0}" --port "${PORT:-8000}" --workers "${WEB_CONCURRENCY:-2}" --no-proxy-headers
