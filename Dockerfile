# syntax=docker/dockerfile:1
# One image for every component; the command picks it: api | worker | operator | migrate.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY reviewops ./reviewops
COPY api ./api
COPY worker ./worker
COPY operator ./operator
COPY migrations ./migrations
RUN /opt/venv/bin/pip install .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONSAFEPATH=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    REVIEWOPS_HOST=0.0.0.0 \
    HOME=/tmp
RUN groupadd --system --gid 10001 reviewops && useradd --system --uid 10001 --gid 10001 --no-create-home reviewops
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
EXPOSE 8000 9191
ENTRYPOINT ["reviewops"]
CMD ["api"]
