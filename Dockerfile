# syntax=docker/dockerfile:1
# One image for every ReviewOps component; the command picks it: api | worker | operator | migrate
# (e.g. `docker run IMAGE worker`). The Helm chart runs it non-root with a read-only root filesystem.
ARG PYTHON_VERSION=3.11

# --- build: a virtualenv with ReviewOps and its dependencies, compiled to bytecode ---
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY reviewops ./reviewops
COPY api ./api
COPY worker ./worker
COPY operator ./operator
COPY migrations ./migrations
# A regular (non-editable) install: the runtime image needs no source tree. Bytecode is compiled here
# because the running container cannot write it (read-only root filesystem).
RUN /opt/venv/bin/pip install --no-compile . \
 && /opt/venv/bin/python -m compileall -q /opt/venv/lib \
 && /opt/venv/bin/reviewops version

# --- base of the runtime: slim Python, the virtualenv, an unprivileged user; no compilers, no sources ---
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime-base
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="reviewops" \
      org.opencontainers.image.description="Self-hosted, Kubernetes-native AI code review for GitHub" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/reviewops/reviewops"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONSAFEPATH=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    REVIEWOPS_HOST=0.0.0.0 \
    HOME=/tmp
RUN groupadd --system --gid 10001 reviewops \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin reviewops
COPY --from=build /opt/venv /opt/venv
WORKDIR /tmp
# API (webhooks, REST, /metrics), worker /metrics, operator /metrics and /healthz.
EXPOSE 8000 9191 9192
STOPSIGNAL SIGTERM
ENTRYPOINT ["reviewops"]
CMD ["api"]

# --- dev (skaffold dev only): the installed packages owned by the app user, so file sync can update them ---
FROM runtime-base AS dev
RUN chown -R 10001:10001 /opt/venv/lib
USER 10001:10001

# --- runtime (the default target): packages owned by root, read-only for the app user ---
FROM runtime-base AS runtime
# Numeric, so Kubernetes can verify runAsNonRoot without resolving the name.
USER 10001:10001
