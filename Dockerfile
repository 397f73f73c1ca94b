# syntax=docker/dockerfile:1.7
# Coroner's own image follows every lesson of the outage it was built around: an exactly pinned slim
# base, wheels built in a throw-away stage, manifests before source, no caches left in layers,
# a numeric non-root user, tini as PID 1, exec-form commands and a health check.

FROM python:3.11.7-slim-bookworm AS builder
WORKDIR /src
# Dependencies first: a source change must not rebuild the dependency wheels.
COPY --link pyproject.toml ./
RUN --mount=type=cache,target=/root/.cache/pip \
    python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && pip wheel --wheel-dir /wheels -r requirements.txt
COPY --link README.md setup.py ./
COPY --link bot/ bot/
COPY --link playbooks/ playbooks/
COPY --link migrations/ migrations/
RUN --mount=type=cache,target=/root/.cache/pip \
    pip wheel --no-deps --wheel-dir /wheels .

FROM python:3.11.7-slim-bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini=0.19.0-1+b3 \
    && rm -rf /var/lib/apt/lists/*
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels coroner==0.1.0
USER 10001:10001
ENV CORONER_DATABASE_URL=sqlite:////tmp/coroner.db
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["/usr/bin/tini", "--", "coroner"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
