"""Dockerfiles written for the red team of `coroner lint` / `coroner fix`: kinds unlike the seed and the
corpus (yarn/pnpm, cgo, maven/gradle, bundler, cargo, composer, poetry/pipenv/uv/conda, apk build-base,
deadsnakes, CUDA devel, ARG-heavy, heredocs, cache mounts, ONBUILD, comments inside continuations, CRLF,
SHELL changes, exec-form RUNs, Windows, long apt lines, pip index options, option prefixes, a clean file).

Each is the project's own text. `CONTEXT_FILES` is the build context the fixer may look at: the files these
Dockerfiles COPY, plus what a real checkout holds and should not ship.
"""

from __future__ import annotations

CONTEXT_FILES = (
    "package.json", "package-lock.json", "yarn.lock", ".yarnrc.yml", "pnpm-lock.yaml", "go.mod", "go.sum",
    "pom.xml", "Gemfile", "Gemfile.lock", "composer.json", "composer.lock", "pyproject.toml", "poetry.lock",
    "Pipfile", "Pipfile.lock", "uv.lock", "environment.yml", "requirements.txt", "requirements-dev.txt",
    "app.py", "main.py", "serve.py", "run.sh", "entrypoint.sh", "src/app.py", "cmd/app/main.go",
    ".yarn/releases/yarn.cjs", ".git/HEAD", "node_modules/left-pad/index.js", "tests/data/big.csv",
    "rootfs.tar.gz", "config/app.toml", "target/app.jar", "build.gradle", "settings.gradle", "app.sh",
    "requirements/prod.txt", "requirements/base.txt", "web/package.json", "deploy/requirements.txt",
    "constraints.txt",
)

UNSEEN: dict[str, str] = {
    "node-yarn": r'''FROM node:20
WORKDIR /app
COPY package.json yarn.lock ./
RUN yarn install --frozen-lockfile
COPY . .
RUN yarn build
EXPOSE 3000
CMD yarn start
''',
    "node-pnpm-multistage": r'''# syntax=docker/dockerfile:1.6
FROM node:20-alpine AS deps
RUN corepack enable
WORKDIR /app
COPY package.json pnpm-lock.yaml ./
RUN --mount=type=cache,id=pnpm,target=/root/.local/share/pnpm/store pnpm install --frozen-lockfile

FROM node:20-alpine AS build
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY . .
RUN pnpm run build

FROM node:20-alpine
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/dist ./dist
COPY --from=deps /app/node_modules ./node_modules
USER node
CMD ["node", "dist/server.js"]
''',
    "go-cgo": r'''FROM golang:1.22
ENV CGO_ENABLED=1
RUN apt-get update && apt-get install -y gcc libsqlite3-dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -o /usr/local/bin/app ./cmd/app
CMD ["app"]
''',
    "java-maven": r'''FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /build
COPY pom.xml .
RUN mvn -B dependency:go-offline
COPY src ./src
RUN mvn -B package -DskipTests

FROM eclipse-temurin:17-jre
COPY --from=build /build/target/app.jar /app.jar
ENTRYPOINT java -jar /app.jar
''',
    "java-gradle": r'''FROM gradle:8.5-jdk21
WORKDIR /home/gradle/project
COPY --chown=gradle:gradle . .
RUN gradle build --no-daemon
EXPOSE 8080
CMD ["java", "-jar", "build/libs/app.jar"]
''',
    "ruby-bundler": r'''FROM ruby:3.3
RUN apt-get update -qq && apt-get install -y build-essential libpq-dev nodejs
WORKDIR /myapp
COPY Gemfile Gemfile.lock ./
RUN bundle install
COPY . .
EXPOSE 3000
CMD ["rails", "server", "-b", "0.0.0.0"]
''',
    "rust-cargo": r'''FROM rust:1.75 as builder
WORKDIR /usr/src/myapp
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/src/myapp/target \
    cargo build --release && cp target/release/myapp /usr/local/bin/myapp

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y ca-certificates libssl3 && rm -rf /var/lib/apt/lists/*
COPY --from=builder /usr/local/bin/myapp /usr/local/bin/myapp
CMD ["myapp"]
''',
    "php-composer": r'''FROM php:8.2-fpm
RUN apt-get update && apt-get install -y \
        git \
        unzip \
        libzip-dev \
        libpng-dev \
    && docker-php-ext-install zip gd pdo_mysql
COPY --from=composer:2 /usr/bin/composer /usr/bin/composer
WORKDIR /var/www/html
COPY composer.json composer.lock ./
RUN composer install --no-dev --no-scripts --no-autoloader
COPY . .
RUN composer dump-autoload --optimize
CMD ["php-fpm"]
''',
    "python-poetry": r'''FROM python:3.11-slim
ENV POETRY_VERSION=1.7.1 \
    POETRY_VIRTUALENVS_CREATE=false
RUN pip install "poetry==$POETRY_VERSION"
WORKDIR /code
COPY pyproject.toml poetry.lock ./
RUN poetry install --no-root --only main
COPY . .
CMD ["python", "-m", "myapp"]
''',
    "python-pipenv": r'''FROM python:3.10
RUN pip install pipenv
WORKDIR /app
COPY Pipfile Pipfile.lock ./
RUN pipenv install --system --deploy
COPY . .
CMD gunicorn app:app -b 0.0.0.0:8000
''',
    "python-uv": r'''# syntax=docker/dockerfile:1
FROM python:3.12-slim
COPY --from=ghcr.io/astral-sh/uv:0.4.20 /uv /bin/uv
WORKDIR /app
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-install-project --no-dev
COPY . /app
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev
ENV PATH="/app/.venv/bin:$PATH"
CMD ["python", "-m", "app"]
''',
    "conda": r'''FROM continuumio/miniconda3
WORKDIR /app
COPY environment.yml .
RUN conda env create -f environment.yml
SHELL ["conda", "run", "-n", "myenv", "/bin/bash", "-c"]
RUN python -c "import flask"
COPY . .
ENTRYPOINT ["conda", "run", "--no-capture-output", "-n", "myenv", "python", "app.py"]
''',
    "alpine-buildbase": r'''FROM python:3.11-alpine
RUN apk add --no-cache --virtual .build-deps build-base libffi-dev openssl-dev \
    && pip install --no-cache-dir cryptography==42.0.5 \
    && apk del .build-deps
RUN apk add --no-cache libffi openssl
COPY app.py /app.py
CMD ["python", "/app.py"]
''',
    "ubuntu-deadsnakes": r'''FROM ubuntu:22.04
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y software-properties-common && \
    add-apt-repository ppa:deadsnakes/ppa && \
    apt-get update && \
    apt-get install -y python3.12 python3.12-venv python3.12-dev build-essential
RUN python3.12 -m venv /venv
COPY requirements.txt .
RUN /venv/bin/pip install -r requirements.txt
COPY . /app
WORKDIR /app
CMD ["/venv/bin/python", "main.py"]
''',
    "cuda-devel": r'''FROM nvidia/cuda:12.1.0-cudnn8-devel-ubuntu22.04
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-pip git && rm -rf /var/lib/apt/lists/*
WORKDIR /workspace
COPY requirements.txt .
RUN pip3 install -r requirements.txt --extra-index-url https://download.pytorch.org/whl/cu121
COPY . .
CMD ["python3", "train.py"]
''',
    "arg-heavy": r'''ARG BASE_IMAGE=python
ARG PY_VERSION=3.11
ARG VARIANT=slim-bookworm
FROM ${BASE_IMAGE}:${PY_VERSION}-${VARIANT} AS base
ARG APP_USER=app
ARG APP_HOME=/srv/app
ENV APP_HOME=${APP_HOME}
RUN useradd -m ${APP_USER}
WORKDIR ${APP_HOME}
ARG PIP_INDEX=https://pypi.org/simple
COPY requirements.txt .
RUN pip install --index-url=${PIP_INDEX} -r requirements.txt
COPY . .
USER ${APP_USER}
CMD ["python", "-m", "service"]
''',
    "heredoc": r'''# syntax=docker/dockerfile:1.4
FROM debian:bookworm
RUN <<EOF
set -eux
apt-get update
apt-get install -y curl jq
curl -fsSL https://example.com/install.sh -o /tmp/install.sh
EOF
COPY <<-"CONF" /etc/app.conf
	listen = 0.0.0.0
	port = 8080
CONF
CMD ["bash"]
''',
    "onbuild": r'''FROM python:3.9
RUN mkdir -p /usr/src/app
WORKDIR /usr/src/app
ONBUILD COPY requirements.txt /usr/src/app/
ONBUILD RUN pip install -r requirements.txt
ONBUILD COPY . /usr/src/app
''',
    "continuation-comments": r'''FROM debian:bullseye
RUN apt-get update \
    # tools for debugging
    && apt-get install -y \
        curl \
        # network
        iproute2 \
        procps \
    # cleanup
    && rm -rf /var/lib/apt/lists/*
COPY entrypoint.sh /entrypoint.sh
ENTRYPOINT ["/entrypoint.sh"]
''',
    "crlf": (r'''FROM python:3.12-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
CMD ["python", "app.py"]
''').replace("\n", "\r\n"),
    "shell-change": r'''FROM ubuntu:22.04
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN apt-get update && apt-get install -y wget && wget -qO- https://example.com/key | gpg --dearmor > /usr/share/keyrings/k.gpg
RUN ["apt-get", "install", "-y", "curl"]
CMD ["bash"]
''',
    "long-apt": r'''FROM debian:bookworm-slim
RUN apt-get update && apt-get install -yqq --no-install-recommends ca-certificates curl wget gnupg2 lsb-release unzip zip xz-utils bzip2 file less vim-tiny nano htop procps iputils-ping dnsutils net-tools openssh-client rsync git make gcc g++ libc6-dev pkg-config libssl-dev zlib1g-dev tzdata locales && rm -rf /var/lib/apt/lists/*
CMD ["bash"]
''',
    "pip-index": r'''FROM python:3.11
WORKDIR /app
COPY requirements.txt requirements-dev.txt ./
RUN pip install --no-cache -r requirements.txt --extra-index-url https://pkgs.internal.example/simple --index-url=https://pypi.org/simple
RUN pip install --no-cach -U pip && pip install --no-c -r requirements-dev.txt
COPY . .
CMD ["pytest"]
''',
    "npm-ci-omit": r'''FROM node:18-slim
WORKDIR /usr/src/app
COPY package*.json ./
RUN npm ci --omit=dev
COPY . .
USER node
EXPOSE 8080
CMD [ "node", "server.js" ]
''',
    "clean": r'''# syntax=docker/dockerfile:1
FROM python:3.12.3-slim-bookworm@sha256:2be8daddbb82756f7d1f2c7ece706aadcb284bf6ab6d769ea695cc3ed6016743 AS build
WORKDIR /app
COPY requirements.txt .
RUN --mount=type=cache,target=/root/.cache/pip pip wheel --wheel-dir /wheels -r requirements.txt

FROM python:3.12.3-slim-bookworm@sha256:2be8daddbb82756f7d1f2c7ece706aadcb284bf6ab6d769ea695cc3ed6016743
WORKDIR /app
RUN useradd --system --uid 10001 app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index /wheels/* && rm -rf /wheels
COPY --link --chown=app:app src/ ./src/
USER app
HEALTHCHECK CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://localhost:8000/health')"]
EXPOSE 8000
ENTRYPOINT ["python", "-m", "src.main"]
''',
    "alpine-apk-virtual-nocache": r'''FROM alpine:3.19
RUN apk update && apk add --virtual=.deps build-base curl && make -C /src && apk del .deps
RUN apk add -U --no-cache tini
ENTRYPOINT ["/sbin/tini", "--"]
''',
    "cache-mount-apt": r'''# syntax=docker/dockerfile:1
FROM ubuntu:24.04
RUN rm -f /etc/apt/apt.conf.d/docker-clean
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt,sharing=locked \
    apt-get update && apt-get install -y --no-install-recommends python3
CMD ["python3"]
''',
    "json-run-escape": r'''# escape=`
FROM mcr.microsoft.com/windows/servercore:ltsc2022
SHELL ["powershell", "-Command", "$ErrorActionPreference = 'Stop';"]
RUN Invoke-WebRequest -Uri https://example.com/x.zip -OutFile x.zip ; `
    Expand-Archive x.zip -DestinationPath C:\x
CMD ["cmd"]
''',
    "uv-naive": r'''FROM python:3.12-slim
COPY --from=ghcr.io/astral-sh/uv:0.4.20 /uv /bin/uv
WORKDIR /app
COPY . .
RUN uv sync --frozen --no-dev
CMD ["/app/.venv/bin/python", "-m", "app"]
''',
    "poetry-naive": r'''FROM python:3.11-slim
RUN pip install --no-cache-dir poetry==1.8.3
WORKDIR /code
COPY . .
RUN poetry config virtualenvs.create false && poetry install --only main
CMD ["python", "-m", "myapp"]
''',
    "poetry-naive-single": r'''FROM python:3.11-slim
RUN pip install --no-cache-dir poetry==1.8.3
ENV POETRY_VIRTUALENVS_CREATE=false
WORKDIR /code
COPY . .
RUN poetry install --only main --no-interaction
CMD ["python", "-m", "myapp"]
''',
    "exec-form-runs": r'''FROM node:20-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN ["npm", "ci", "--omit=dev"]
RUN ["apt-get", "update"]
RUN ["apt-get", "install", "-y", "curl"]
RUN ["pip", "install", "-r", "requirements.txt"]
COPY . .
USER node
CMD ["node", "index.js"]
''',
    "cuda-devel-pip-only": r'''ARG CUDA=12.4.1
FROM nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends python3-pip && rm -rf /var/lib/apt/lists/*
WORKDIR /srv
COPY requirements.txt .
RUN pip3 install -r requirements.txt
COPY serve.py .
USER 10001:10001
CMD ["python3", "serve.py"]
''',
    "crlf-continuation-heredoc": (r'''FROM debian:bookworm-slim
RUN apt-get update \
    # certs
    && apt-get install -y \
        ca-certificates \
        curl
RUN <<EOF
set -e
curl -fsSL https://example.com -o /tmp/x
EOF
CMD ["curl", "--version"]
''').replace("\n", "\r\n"),
    "multistage-builder-tools-final-from-stage": r'''FROM python:3.12-slim AS base
RUN apt-get update && apt-get install -y --no-install-recommends gcc libpq-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /app

FROM base AS deps
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

FROM deps AS final
COPY . .
CMD ["gunicorn", "app:app"]
''',
    "tabs-sudo-pipefail": r'''FROM ubuntu:24.04
RUN apt-get update && \
	apt-get install -y sudo curl && \
	rm -rf /var/lib/apt/lists/*
RUN useradd -m -u 1000 dev && echo "dev ALL=(ALL) NOPASSWD:ALL" >> /etc/sudoers
USER dev
RUN set -o pipefail && curl -fsSL https://example.com/setup.sh | bash
RUN sudo apt-get update && sudo apt-get install -y jq
WORKDIR /home/dev
CMD ["bash"]
''',
    "hadolint-ignores": r'''FROM debian:12
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
# coroner: ignore=runs-as-root
COPY run.sh /run.sh
CMD ["/run.sh"]
''',
    "apk-del-later": r'''FROM python:3.12-alpine
RUN apk add --no-cache --virtual .build-deps gcc musl-dev postgresql-dev
RUN pip install --no-cache-dir psycopg2==2.9.9
RUN apk del .build-deps
RUN apk add --no-cache libpq
COPY app.py .
CMD ["python", "app.py"]
''',
    "pip-user-requirements-inline": r'''FROM python:3.11-slim
RUN useradd -m -u 1001 app
USER app
WORKDIR /home/app
COPY --chown=app:app requirements.txt .
RUN pip install --user -r requirements.txt
ENV PATH=/home/app/.local/bin:$PATH
COPY --chown=app:app . .
CMD ["python", "main.py"]
''',
    "yarn-berry-node-gyp": r'''FROM node:20-bookworm
RUN apt-get update && apt-get install -y python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /usr/src/app
COPY package.json yarn.lock .yarnrc.yml ./
COPY .yarn ./.yarn
RUN yarn install --immutable
COPY . .
RUN yarn build
CMD ["node", "dist/main.js"]
''',
    "npm-native-modules": r'''FROM node:20
RUN apt-get update && apt-get install -y build-essential python3
WORKDIR /app
COPY package*.json ./
RUN npm ci --omit=dev
COPY . .
EXPOSE 3000
CMD ["node", "index.js"]
''',
    "env-arg-scope": r'''ARG PYTHON_VERSION=3.11
FROM python:${PYTHON_VERSION}
ARG PYTHON_VERSION
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y build-essential libxml2-dev libxslt1-dev
ARG EXTRA_INDEX
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt --extra-index-url ${EXTRA_INDEX}
COPY . .
ENV APP_ENV=prod
CMD ["python", "-m", "app"]
''',
    "apt-o-option": r'''FROM ubuntu:22.04
RUN apt-get update && apt-get -o APT::Install-Recommends=false -yqq install nginx && apt-get clean && rm -rf /var/lib/apt/lists/*
RUN apt-get update && apt-get install --install-recommends=no -y curl && rm -rf /var/lib/apt/lists/*
EXPOSE 8080
CMD ["nginx", "-g", "daemon off;"]
''',
    "heredoc-variants": r'''# syntax=docker/dockerfile:1.7
FROM ubuntu:24.04
RUN <<EOT bash
  set -euo pipefail
  apt-get update
  apt-get install -y python3-venv
EOT
RUN <<-EOF
	echo one > /a
	echo two > /b
EOF
RUN cat <<EOF > /etc/motd
hello $USER
EOF
COPY --chmod=755 <<EOF /usr/local/bin/start
#!/bin/sh
exec python3 -m http.server 8080
EOF
CMD ["/usr/local/bin/start"]
''',
    "go-cross-platform": r'''FROM --platform=$BUILDPLATFORM golang:1.23-alpine AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
COPY go.* ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -ldflags="-s -w" -o /out/app ./cmd/app

FROM alpine:3.20
RUN apk add --no-cache ca-certificates tzdata
COPY --from=build /out/app /usr/bin/app
USER 65534
ENTRYPOINT ["/usr/bin/app"]
''',
    "ubi-microdnf": r'''FROM registry.access.redhat.com/ubi9/ubi-minimal:9.4
RUN microdnf install -y java-17-openjdk-headless shadow-utils && microdnf clean all
RUN dnf install -y gcc make
COPY target/app.jar /opt/app.jar
CMD java -jar /opt/app.jar
''',
    "add-variants": r'''FROM debian:bookworm-slim
ADD rootfs.tar.gz /
ADD https://example.com/tool.tgz /tmp/
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/x /x
ADD config/ /etc/app/
ADD git@github.com:moby/buildkit.git#v0.14.0 /src
CMD ["/bin/app"]
''',
    "apt-pins-backports": r'''FROM debian:bookworm
RUN echo "deb http://deb.debian.org/debian bookworm-backports main" > /etc/apt/sources.list.d/bp.list \
 && apt-get update \
 && apt-get install -y -t bookworm-backports golang-1.22-go=1.22.* git=1:2.39.* \
 && apt-get install -y --no-install-recommends ca-certificates
COPY . /src
RUN cd /src && /usr/lib/go-1.22/bin/go build -o /usr/local/bin/app .
CMD ["app"]
''',
    "arg-uid-user": r'''FROM python:3.12-slim
ARG UID=1000
ARG GID=1000
RUN groupadd -g ${GID} app && useradd -u ${UID} -g app -m app
WORKDIR /home/app
COPY --chown=${UID}:${GID} requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY --chown=${UID}:${GID} . .
USER ${UID}:${GID}
HEALTHCHECK --interval=30s CMD curl -f http://localhost:8000/ || exit 1
CMD ["python", "main.py"]
''',
    "npm-global-and-pm2": r'''FROM node:22-alpine
RUN npm install -g pm2@5.4.2 && npm cache clean --force
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --production
COPY . .
EXPOSE 3000
CMD ["pm2-runtime", "ecosystem.config.js"]
''',
    "java-jlink": r'''FROM eclipse-temurin:21-jdk AS jre
RUN jlink --add-modules java.base,java.logging,java.sql --strip-debug --no-man-pages --no-header-files --compress=2 --output /jre

FROM gradle:8.10-jdk21 AS build
WORKDIR /w
COPY build.gradle settings.gradle ./
RUN gradle dependencies --no-daemon
COPY src src
RUN gradle bootJar --no-daemon

FROM debian:bookworm-slim
COPY --from=jre /jre /opt/jre
COPY --from=build /w/build/libs/app.jar /app.jar
ENV PATH=/opt/jre/bin:$PATH
USER 10001
ENTRYPOINT ["java", "-jar", "/app.jar"]
''',
    "escape-backtick-linux": r'''# escape=`
FROM alpine:3.20
RUN apk add `
      curl `
      jq
COPY app.sh /app.sh
CMD ["/app.sh"]
''',
    "pip-env-nocache-and-prefixes": r'''FROM python:3.12-slim
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements.txt /tmp/
RUN pip install -r /tmp/requirements.txt
RUN python -m pip install --no-cache-d gunicorn==22.0.0
RUN pip3 install --no-cache-dir=false uvicorn==0.30.1
COPY . /app
WORKDIR /app
USER 10001
CMD ["gunicorn", "app:app"]
''',
    "existing-final-named-stage": r'''FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y build-essential
COPY requirements.txt .
RUN pip wheel -w /w -r requirements.txt

FROM build AS test
COPY . .
RUN pytest

FROM python:3.11-slim AS final
COPY --from=build /w /w
RUN pip install /w/*.whl
COPY . /app
CMD ["python", "/app/main.py"]
''',
    "pip-nested-requirements": r'''FROM python:3.12-slim
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir -r requirements/prod.txt
USER 10001
CMD ["python", "-m", "svc"]
''',
    "npm-subdir": r'''FROM node:20-slim
WORKDIR /app
COPY . /app
RUN npm ci --prefix web && npm cache clean --force
USER node
CMD ["node", "web/server.js"]
''',
    "copy-dest-abs": r'''FROM python:3.12-slim
COPY . /srv/app
WORKDIR /srv/app
RUN pip install --no-cache-dir -r requirements.txt
USER 10001
CMD ["python", "app.py"]
''',
    "pip-abs-requirements": r'''FROM python:3.12-slim
WORKDIR /opt
COPY . /srv/app
RUN pip install --no-cache-dir -r /srv/app/deploy/requirements.txt -c /srv/app/constraints.txt
USER 10001
CMD ["python", "/srv/app/main.py"]
''',
    "shell-cmd-vars": r'''FROM python:3.12-slim
ENV PORT=8000
COPY app.py /app.py
USER 10001
CMD python /app.py --port $PORT
''',
    "entrypoint-exec-and-sh-c": r'''FROM python:3.12-slim
COPY app.py /app.py
USER 10001
ENTRYPOINT exec gunicorn --bind 0.0.0.0:${PORT:-8000} app:app
''',
    "secret-mount-pip": r'''# syntax=docker/dockerfile:1
FROM python:3.12-slim
WORKDIR /app
COPY requirements.txt .
RUN --mount=type=secret,id=netrc,target=/root/.netrc pip install -r requirements.txt
RUN --network=none python -c "print('offline')"
COPY . .
USER 10001
CMD ["python", "app.py"]
''',
    "apt-var-packages": r'''FROM debian:bookworm-slim
ARG PACKAGES="curl ca-certificates"
RUN apt-get update && apt-get install -y $PACKAGES $(cat /dev/null) && rm -rf /var/lib/apt/lists/*
USER 10001
CMD ["curl", "--version"]
''',
    "scratch-final": r'''FROM rust:1.80-alpine AS build
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY . .
RUN cargo build --release --target x86_64-unknown-linux-musl

FROM scratch
COPY --from=build /src/target/x86_64-unknown-linux-musl/release/app /app
CMD ["/app"]
''',
    "distroless-python": r'''FROM python:3.11-slim AS build
COPY requirements.txt .
RUN pip install --target=/deps -r requirements.txt
FROM gcr.io/distroless/python3-debian12
COPY --from=build /deps /deps
COPY app.py /app.py
ENV PYTHONPATH=/deps
CMD ["/app.py"]
''',
    "pip-multiline-flags": r'''FROM python:3.12
WORKDIR /app
COPY requirements.txt .
RUN set -ex; \
    pip install \
      --upgrade \
      -r requirements.txt; \
    pip check
COPY . .
USER 10001
CMD ["python", "app.py"]
''',
}
