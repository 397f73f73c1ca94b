"""Dockerfiles written in modern BuildKit idioms and edge syntax, where a linter's false positives hide: cache,
secret, bind and tmpfs mounts, `--network`, COPY's `--chmod`/`--chown`/`--link`/`--parents`, ADD of URLs and
git repositories, cross-compiling ARGs, SHELL, a Windows image with the backtick escape, HEALTHCHECK NONE,
ENV's two forms, ONBUILD, `FROM stage AS other` chains and `FROM scratch`. Same shape as
tests/dockerfile_judged.py: the expected rule ids of each were written down before the tool ran on it.
"""

from __future__ import annotations

from tests.dockerfile_judged import Judged, _case

BUILDKIT: dict[str, Judged] = {
    # pip's cache is the cache mount, not a layer; the manifest is bind-mounted in: nothing is wrong here.
    "pip-cache-mount-clean": _case(r'''# syntax=docker/dockerfile:1.7
FROM python:3.12.4-slim-bookworm
WORKDIR /app
RUN --mount=type=cache,target=/root/.cache/pip \
    --mount=type=bind,source=requirements.txt,target=/tmp/requirements.txt \
    pip install -r /tmp/requirements.txt
COPY --link --chown=10001:10001 src/ ./src/
USER 10001:10001
HEALTHCHECK --interval=30s --timeout=3s CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/healthz')"]
CMD ["python", "-m", "src"]
''', "", "requirements.txt src/__main__.py .git/HEAD"),

    # Docker's documented apt cache-mount recipe: /var/lib/apt is a cache mount, so the lists are in no layer.
    # The entrypoint script (no `exec` in it) is PID 1 with no init.
    "apt-cache-mounts": _case(r'''# syntax=docker/dockerfile:1
FROM debian:bookworm-20240701-slim
RUN rm -f /etc/apt/apt.conf.d/docker-clean; \
    echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' > /etc/apt/apt.conf.d/keep-cache
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt,sharing=locked \
    apt-get update && apt-get install -y --no-install-recommends ca-certificates curl
COPY --link --chmod=755 entrypoint.sh /usr/local/bin/entrypoint.sh
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
''', "package-unpinned no-healthcheck no-init", "entrypoint.sh"),

    # A cache mount covers the paths it names, not every cache: the apt mounts do not hold pip's downloads.
    "apt-mounts-not-pip": _case(r'''# syntax=docker/dockerfile:1
FROM python:3.11.9-slim-bookworm
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt,sharing=locked \
    apt-get update && apt-get install -y --no-install-recommends libpq5 \
    && pip install psycopg==3.2.1
COPY --link app.py /app/app.py
USER 10001
CMD ["python", "/app/app.py"]
''', "package-unpinned pip-cache no-healthcheck", "app.py"),

    # An npm token through a secret mount is no secret in the image; the npm cache is a cache mount.
    "npm-secret-and-cache-mount": _case(r'''# syntax=docker/dockerfile:1
FROM node:20.15.1-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc \
    --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev

FROM node:20.15.1-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --link --from=deps /app/node_modules ./node_modules
COPY --link . .
USER node
EXPOSE 3000/tcp
CMD ["node", "server.js"]
''', "dockerignore-missing user-not-numeric no-healthcheck",
        "package.json package-lock.json server.js .git/HEAD", stages=2),

    # npm in the shipped stage with its cache mounted: nothing of ~/.npm is in the layer.
    "npm-cache-mount-shipped": _case(r'''FROM node:22.4.1-alpine3.20
WORKDIR /srv
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev
COPY --link src ./src
USER 1000:1000
CMD ["node", "src/index.js"]
''', "copy-without-link no-healthcheck", "package.json package-lock.json src/index.js"),

    # `docker init`'s Go layout: cross-compiled from $BUILDPLATFORM with TARGETOS/TARGETARCH, every download
    # in a cache mount, the source bind-mounted whole (so the whole context, .git included, is sent).
    "go-bind-mount-cross": _case(r'''# syntax=docker/dockerfile:1
ARG GO_VERSION=1.22.5
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=bind,source=go.sum,target=go.sum \
    --mount=type=bind,source=go.mod,target=go.mod \
    go mod download -x
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    --mount=type=bind,target=. \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /bin/server ./cmd/server

FROM gcr.io/distroless/static-debian12:nonroot AS final
COPY --link --from=build /bin/server /server
EXPOSE 8080
ENTRYPOINT ["/server"]
''', "dockerignore-missing no-healthcheck", "go.mod go.sum cmd/server/main.go .git/HEAD", stages=2),

    # `docker init`'s Rust layout: ARGs before FROM, used in FROM and redeclared in the stage; cargo's
    # registry and target in cache mounts; a user made with a uid from an ARG.
    "rust-arg-redeclared": _case(r'''# syntax=docker/dockerfile:1
ARG RUST_VERSION=1.79.0
ARG APP_NAME=api
FROM rust:${RUST_VERSION}-slim-bookworm AS build
ARG APP_NAME
WORKDIR /app
RUN --mount=type=bind,source=src,target=src \
    --mount=type=bind,source=Cargo.toml,target=Cargo.toml \
    --mount=type=bind,source=Cargo.lock,target=Cargo.lock \
    --mount=type=cache,target=/app/target/ \
    --mount=type=cache,target=/usr/local/cargo/git/db \
    --mount=type=cache,target=/usr/local/cargo/registry/ \
    cargo build --locked --release && cp ./target/release/$APP_NAME /bin/server

FROM debian:bookworm-slim AS final
ARG UID=10001
RUN adduser --disabled-password --gecos "" --home "/nonexistent" --shell "/sbin/nologin" \
    --no-create-home --uid "${UID}" appuser
USER appuser
COPY --link --from=build /bin/server /bin/
EXPOSE 8000
CMD ["/bin/server"]
''', "user-not-numeric no-healthcheck", "Cargo.toml Cargo.lock src/main.rs", stages=2),

    # ADD of a URL with and without --checksum and of git repositories is what ADD is for, not a local copy;
    # COPY --parents/--chmod/--chown; tini as PID 1 from a verified download. wait-for-it's URL names a commit,
    # but nothing checks the bytes the server returns for it: add-url-without-checksum (the git sources are not).
    "add-remote-and-copy-flags": _case(r'''# syntax=docker/dockerfile:1.7-labs
FROM alpine:3.20.1
ADD --checksum=sha256:c5b0666b4cb676901f90dfcb37106783c5fe2077b04590973b885950611b30ee --chmod=755 https://github.com/krallin/tini/releases/download/v0.19.0/tini-static-amd64 /sbin/tini
ADD --chmod=755 https://raw.githubusercontent.com/vishnubob/wait-for-it/81b1373f17855a4dc21156cfe1694c31d7d1792e/wait-for-it.sh /usr/local/bin/wait-for-it
ADD --keep-git-dir=false https://github.com/example/config.git#v1.2.0 /etc/app/config
ADD git@github.com:example/assets.git#main /srv/assets
COPY --parents --chmod=644 conf/*.yaml /etc/app/
COPY --chown=1000:1000 --chmod=755 --link bin/app /usr/local/bin/app
USER 1000:1000
ENTRYPOINT ["/sbin/tini", "--"]
CMD ["app"]
''', "copy-without-link no-healthcheck add-url-without-checksum", "conf/app.yaml bin/app"),

    # SHELL with pipefail, a user made with a known uid but named in USER, STOPSIGNAL.
    "bash-pipefail-named-user": _case(r'''FROM ubuntu:24.04
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl ca-certificates python3-minimal \
 && rm -rf /var/lib/apt/lists/*
RUN curl -fsSL https://example.com/release.txt | tee /etc/release.txt
RUN useradd --uid 10001 --create-home app
USER app
WORKDIR /home/app
COPY --link --chown=app:app run.py .
STOPSIGNAL SIGINT
CMD ["python3", "run.py"]
''', "package-unpinned user-not-numeric no-healthcheck", "run.py"),

    # Windows: `# escape=`, PowerShell as SHELL, drive-letter paths. No Linux rule applies (no uids, no
    # apt, and `--link`/`--mount` need BuildKit, which Windows images are not built with).
    "windows-powershell-escape": _case(r'''# escape=`
FROM mcr.microsoft.com/windows/servercore:ltsc2022
SHELL ["powershell", "-Command", "$ErrorActionPreference = 'Stop'; $ProgressPreference = 'SilentlyContinue';"]
RUN Invoke-WebRequest -Uri https://dl.example.com/app-1.4.2.zip -OutFile C:\app.zip ; `
    Expand-Archive C:\app.zip -DestinationPath C:\app ; `
    Remove-Item C:\app.zip -Force
RUN choco install -y nodejs-lts --version=20.15.0 ; Remove-Item C:\ProgramData\chocolatey\logs -Recurse -Force
WORKDIR C:\app
COPY config.json C:\app\
EXPOSE 80/tcp
HEALTHCHECK --interval=30s CMD powershell -command try { iwr http://localhost/health -UseBasicParsing } catch { exit 1 }
ENTRYPOINT ["C:\\app\\app.exe"]
''', "", "config.json"),

    # Metadata syntax: multi-line LABEL, ENV's three value spellings and the legacy `ENV key value`, EXPOSE
    # with protocols, VOLUME in JSON, HEALTHCHECK NONE, STOPSIGNAL. nginx's master runs as root.
    "nginx-metadata-forms": _case(r'''FROM nginx:1.27.0-alpine-slim
LABEL org.opencontainers.image.title="edge proxy" \
      org.opencontainers.image.source="https://github.com/example/proxy" \
      org.opencontainers.image.licenses=MIT
ENV TZ=UTC LANG="C.UTF-8" GREETING=hello\ world
ENV NGINX_ENTRYPOINT_QUIET_LOGS 1
COPY --link nginx.conf /etc/nginx/nginx.conf
EXPOSE 80/tcp 443/tcp 443/udp
VOLUME ["/var/cache/nginx"]
HEALTHCHECK NONE
STOPSIGNAL SIGQUIT
''', "runs-as-root", "nginx.conf"),

    # An ONBUILD base image: the triggers copy the child's context, not this one's; USER belongs in the child.
    "onbuild-base": _case(r'''FROM python:3.12.4-slim-bookworm
WORKDIR /app
ONBUILD COPY requirements.txt /app/
ONBUILD RUN pip install --no-cache-dir -r requirements.txt
ONBUILD COPY . /app
CMD ["python", "app.py"]
''', "runs-as-root no-healthcheck", "app.py requirements.txt .git/HEAD"),

    # A bitnami image (uid 1001) switched to root for one install and back: it does not run as root.
    "bitnami-root-and-back": _case(r'''FROM bitnami/redis:7.2.5-debian-12-r0
USER root
RUN install_packages curl
USER 1001
COPY --link --chown=1001:0 redis.conf /opt/bitnami/redis/mounted-etc/redis.conf
HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD ["redis-cli", "ping"]
''', "", "redis.conf"),

    # A CI agent image: root for the install, back to the image's named user.
    "jenkins-agent-root-and-back": _case(r'''FROM jenkins/inbound-agent:3256.v88a_f6e922152-1-jdk17
USER root
RUN apt-get update \
    && apt-get install -y --no-install-recommends make=4.3-4.1 \
    && rm -rf /var/lib/apt/lists/*
USER jenkins
''', "user-not-numeric", ""),

    # A certs stage used only as a COPY --from source, `FROM base AS build` and `FROM base AS test` chains,
    # a scratch final stage. The test stage does not ship.
    "go-stage-chain-scratch": _case(r'''# syntax=docker/dockerfile:1
FROM alpine:3.20.1 AS certs
RUN apk add --no-cache ca-certificates tzdata

FROM golang:1.22.5-alpine3.20 AS base
WORKDIR /src
ENV CGO_ENABLED=0
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download

FROM base AS build
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags="-s -w" -o /out/app ./cmd/app

FROM base AS test
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build go test ./...

FROM scratch
COPY --link --from=certs /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/
COPY --link --from=certs /usr/share/zoneinfo /usr/share/zoneinfo
COPY --link --from=build /out/app /app
USER 65534:65534
ENTRYPOINT ["/app"]
''', "package-unpinned dockerignore-missing no-healthcheck", "go.mod go.sum cmd/app/main.go .git/HEAD", stages=5),

    # RUN and COPY heredocs next to cache and bind mounts.
    "heredoc-mounts": _case(r'''# syntax=docker/dockerfile:1.4
FROM ubuntu:22.04
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt,sharing=locked <<EOF
set -e
apt-get update
apt-get install -y --no-install-recommends python3 python3-pip
EOF
RUN --mount=type=cache,target=/root/.cache/pip \
    --mount=type=bind,source=requirements.txt,target=/tmp/requirements.txt \
    pip3 install -r /tmp/requirements.txt
COPY --link <<EOF /etc/app/config.ini
[server]
port = 8080
EOF
COPY --link app.py /opt/app/app.py
RUN useradd -r -u 10001 app
USER 10001
CMD ["python3", "/opt/app/app.py"]
''', "package-unpinned no-healthcheck", "requirements.txt app.py"),

    # Wheels built with the index URL from a secret; installed with no network from a bind mount of them:
    # nothing is downloaded in the shipped stage, so no pip cache fills there.
    "pip-wheels-network-none": _case(r'''# syntax=docker/dockerfile:1
FROM python:3.12.4-slim-bookworm AS wheels
WORKDIR /w
COPY requirements.txt .
RUN --mount=type=secret,id=pip_index_url,env=PIP_INDEX_URL \
    --mount=type=cache,target=/root/.cache/pip \
    pip wheel --wheel-dir /w/wheels -r requirements.txt

FROM python:3.12.4-slim-bookworm
WORKDIR /app
RUN --network=none --mount=type=bind,from=wheels,source=/w/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels /wheels/*.whl
COPY --link . .
USER 10001:10001
HEALTHCHECK CMD ["python", "-c", "import app"]
ENTRYPOINT ["python", "-m", "app"]
''', "dockerignore-missing", "requirements.txt app/__init__.py app/__main__.py .git/HEAD", stages=2),

    # tini before node's entrypoint script; legacy `ENV key value`; yarn's cache in a cache mount.
    "yarn-cache-mount-tini": _case(r'''FROM node:20.15.1-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV production
WORKDIR /usr/src/app
COPY --link package.json yarn.lock ./
RUN --mount=type=cache,target=/usr/local/share/.cache/yarn yarn install --frozen-lockfile --production
COPY --link --chown=node:node . .
USER node
ENTRYPOINT ["/usr/bin/tini", "--", "docker-entrypoint.sh"]
CMD ["node", "index.js"]
''', "package-unpinned dockerignore-missing user-not-numeric no-healthcheck", "package.json yarn.lock index.js .git/HEAD"),

    # Microsoft's multi-arch .NET sample: restore and publish for $TARGETARCH, USER from the image's $APP_UID.
    "dotnet-targetarch-app-uid": _case(r'''# syntax=docker/dockerfile:1
FROM --platform=$BUILDPLATFORM mcr.microsoft.com/dotnet/sdk:8.0 AS build
ARG TARGETARCH
WORKDIR /source
COPY --link *.csproj .
RUN dotnet restore -a $TARGETARCH
COPY --link . .
RUN dotnet publish -a $TARGETARCH --no-restore -o /app

FROM mcr.microsoft.com/dotnet/runtime:8.0
WORKDIR /app
COPY --link --from=build /app .
USER $APP_UID
ENTRYPOINT ["./dotnetapp"]
''', "dockerignore-missing no-healthcheck", "dotnetapp.csproj Program.cs .git/HEAD", stages=2),
}
