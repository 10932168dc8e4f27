# syntax=docker/dockerfile:1
# One image for the four services of the Lin County skills platform. The command picks the service:
#   uvicorn voucher_service.main:create --factory --host 0.0.0.0 --port 8000 --no-proxy-headers  (the default)
#   uvicorn training_service.main:create --factory --host 0.0.0.0 --port 8000 --no-proxy-headers
#   python -m subsidy_service.migrate upgrade                                       (start-up migration step)
#   python -m voucher_service.replay --since 2026-01-01T00:00:00+00:00              (outbox replay)
# See docs/deployment.md. Build: `docker build -t linxian-skills:local .` (the last stage, `runtime`). The `demo`
# stage adds the development test support's province simulator (testsupport/) for compose's demo profile only.

ARG PYTHON_IMAGE=python:3.11-slim

# ---- build: resolve the locked workspace into /app/.venv --------------------------------------------
FROM ${PYTHON_IMAGE} AS build

# uv is pinned to the version the Makefile uses; the lock file (uv.lock) pins everything else.
RUN pip install --no-cache-dir "uv==0.13.9"

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /src

# Third-party dependencies first, from the manifests only, so that a code change does not reinstall them.
COPY pyproject.toml uv.lock ./
COPY services/pyproject.toml services/pyproject.toml
COPY voucher-service/pyproject.toml voucher-service/pyproject.toml
COPY training-service/pyproject.toml training-service/pyproject.toml
COPY certification-service/pyproject.toml certification-service/pyproject.toml
COPY subsidy-service/pyproject.toml subsidy-service/pyproject.toml
# a workspace member of the dev group: its manifest is read, the package is never installed here
COPY testsupport/pyproject.toml testsupport/pyproject.toml
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace

# Then the workspace members themselves, installed as wheels (not editable) so the runtime stage needs
# only /app/.venv. Migrations and data files ship inside the packages.
COPY services/src services/src
COPY voucher-service/src voucher-service/src
COPY training-service/src training-service/src
COPY certification-service/src certification-service/src
COPY subsidy-service/src subsidy-service/src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

# ---- demo-build: the same environment plus the province simulator of the test support --------------
FROM build AS demo-build
COPY testsupport/src testsupport/src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv pip install --python /app/.venv/bin/python --no-deps --compile-bytecode ./testsupport

# ---- base: a non-root user, nothing else -----------------------------------------------------------
FROM ${PYTHON_IMAGE} AS base

RUN groupadd --system --gid 10001 skills \
 && useradd --system --uid 10001 --gid skills --home-dir /app --no-create-home --shell /usr/sbin/nologin skills

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SKILLS_ENVIRONMENT=production

WORKDIR /app

# ---- demo: compose's `demo` profile only (the province simulator); never deployed --------------------
FROM base AS demo
COPY --from=demo-build --chown=root:root /app/.venv /app/.venv
USER 10001:10001
CMD ["python", "-m", "testsupport.province_simulator", "--bootstrap", "kafka:9092", "--reject-share", "0.1"]

# ---- runtime: the services' virtual environment on the base, without the test support --------------
FROM base AS runtime
COPY --from=build --chown=root:root /app/.venv /app/.venv
# Numeric so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
EXPOSE 8000

CMD ["uvicorn", "voucher_service.main:create", "--factory", "--host", "0.0.0.0", "--port", "8000", "--no-proxy-headers"]
