# One image for the API, the worker and the one-shot migration (docker-compose.yml picks the command).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, from pyproject.toml alone: this layer is rebuilt when they change, not on every code edit.
# (The packages are not copied yet, so this installs the dependencies and an empty project.)
COPY pyproject.toml README.md ./
RUN pip install . && rm -rf build ./*.egg-info

# Then the project itself. The code is also run from /app: settings.py, worker.py and alembic.ini live at the
# repository root, and `alembic`, `uvicorn` and `python -m worker` all import from the working directory.
COPY . .
RUN pip install --no-deps . && rm -rf build ./*.egg-info

# The code stays root-owned and read-only to the service user.
RUN useradd --system --uid 10001 --no-create-home --home-dir /app partnerflow
# The exports volume (docker-compose.yml) starts as a copy of this directory, owned by the service user.
RUN mkdir -p /var/lib/partnerflow/exports && chown -R partnerflow /var/lib/partnerflow
USER partnerflow

EXPOSE 8000
# uvicorn logs through the project's one setup (logs.py): JSON lines, with the request id on each.
ENV UVICORN_LOG_CONFIG=log-config.json
CMD ["uvicorn", "api.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]
