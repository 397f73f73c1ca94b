"""Dockerfiles of ecosystems and shapes that tests/dockerfile_unseen.py does not hold, each with the rule ids a
reviewer expects `coroner lint` to report on it, written down before the tool was run on the file.

`expected` is the exact set: a rule id the tool reports that is not in it is a false positive, one it misses
is a false negative. Each case carries its own build context (`files`): what its COPYs name, plus what a
checkout holds. No case has a `.dockerignore`, so `dockerignore-missing` is expected exactly where a COPY takes
the whole context. `stages` is the number of FROMs, for the parser's round trip.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Judged:
    text: str
    expected: frozenset[str]
    files: tuple[str, ...]
    stages: int
    # Where `coroner fix` cannot split the build off safely, the words its note must hold to say why: the
    # finding stays, marked not fixable. Empty for every case the fix must leave with no build toolchain in
    # the final stage.
    toolchain_stays: str = ""


def _case(text: str, expected: str, files: str, stages: int = 1, toolchain_stays: str = "") -> Judged:
    return Judged(text, frozenset(expected.split()), tuple(files.split()), stages, toolchain_stays)


JUDGED: dict[str, Judged] = {
    # ARG-parameterised FROM, --platform, `# syntax=`, a scratch final stage with a numeric USER. The builder's
    # downloads want cache mounts; nothing in the shipped stage is a cache.
    "go-scratch-platform": _case(r'''# syntax=docker/dockerfile:1
ARG GO_VERSION=1.22.5
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG TARGETOS
ARG TARGETARCH
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -o /out/server ./cmd/server

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/
COPY --from=build /out/server /server
USER 65532:65532
ENTRYPOINT ["/server"]
''', "no-cache-mount dockerignore-missing copy-without-link no-healthcheck",
        "go.mod go.sum cmd/server/main.go .git/HEAD", stages=2),

    # Alpine's `go` package in the image that ships: the toolchain and Go's module and build caches ship.
    "go-alpine-apk-go": _case(r'''FROM alpine:3.20
RUN apk add --no-cache go git
WORKDIR /app
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -o /usr/local/bin/app .
EXPOSE 8080
CMD ["app"]
''', "package-unpinned build-tools-in-final-stage package-cache runs-as-root copy-without-link dockerignore-missing no-healthcheck",
        "go.mod go.sum main.go .git/HEAD"),

    # `apk update` leaves the index in /var/cache/apk, alone or before an `apk add --no-cache`.
    "alpine-apk-update-index": _case(r'''FROM alpine:3.19.1
RUN apk update
RUN apk add curl ca-certificates
RUN apk update && apk add --no-cache --virtual .run-deps tzdata
COPY entrypoint.sh /usr/local/bin/
ENTRYPOINT ["entrypoint.sh"]
''', "package-unpinned package-cache consecutive-run copy-without-link runs-as-root no-healthcheck no-init",
        "entrypoint.sh"),

    # conda keeps every downloaded package in /opt/conda/pkgs until `conda clean`.
    "conda-clean-missing": _case(r'''FROM continuumio/miniconda3:24.1.2-0
WORKDIR /app
COPY environment.yml .
RUN conda env update -n base -f environment.yml
RUN conda install -y -c conda-forge gunicorn=21.2.0
COPY . .
USER 1000
CMD ["gunicorn", "-b", "0.0.0.0:8000", "app:app"]
''', "package-cache consecutive-run copy-without-link dockerignore-missing no-healthcheck",
        "environment.yml app.py .git/HEAD"),

    # micromamba cleans in the same RUN, and its image runs as mambauser already: nothing to say but COPY --link.
    "micromamba-nonroot": _case(r'''FROM mambaorg/micromamba:1.5.8
COPY --chown=$MAMBA_USER:$MAMBA_USER env.yaml /tmp/env.yaml
RUN micromamba install -y -n base -f /tmp/env.yaml && \
    micromamba clean --all --yes
COPY --chown=$MAMBA_USER:$MAMBA_USER app.py /app/app.py
ARG MAMBA_DOCKERFILE_ACTIVATE=1
CMD ["python", "/app/app.py"]
''', "copy-without-link no-healthcheck", "env.yaml app.py"),

    # Poetry's download caches stay in /root/.cache/pypoetry (the venv is in the project here).
    "poetry-cache": _case(r'''FROM python:3.12-slim-bookworm
ENV POETRY_VERSION=1.8.3 \
    POETRY_VIRTUALENVS_IN_PROJECT=true \
    POETRY_NO_INTERACTION=1
RUN pip install --no-cache-dir "poetry==${POETRY_VERSION}"
WORKDIR /srv
COPY pyproject.toml poetry.lock ./
RUN poetry install --only=main --no-root
COPY src ./src
RUN poetry install --only=main
USER 10001
CMD ["/srv/.venv/bin/python", "-m", "src"]
''', "package-cache copy-without-link no-healthcheck", "pyproject.toml poetry.lock src/__main__.py"),

    # The same, done right: POETRY_CACHE_DIR removed in the RUN, a slim runtime stage.
    "poetry-cache-cleaned": _case(r'''FROM python:3.11-slim AS builder
RUN pip install --no-cache-dir poetry==1.8.3
ENV POETRY_NO_INTERACTION=1 \
    POETRY_VIRTUALENVS_IN_PROJECT=1 \
    POETRY_VIRTUALENVS_CREATE=1 \
    POETRY_CACHE_DIR=/tmp/poetry_cache
WORKDIR /app
COPY pyproject.toml poetry.lock ./
RUN poetry install --without dev --no-root && rm -rf $POETRY_CACHE_DIR

FROM python:3.11-slim AS runtime
ENV VIRTUAL_ENV=/app/.venv \
    PATH="/app/.venv/bin:$PATH"
COPY --from=builder ${VIRTUAL_ENV} ${VIRTUAL_ENV}
COPY app ./app
USER 10001
ENTRYPOINT ["python", "-m", "app.main"]
''', "copy-without-link no-healthcheck", "pyproject.toml poetry.lock app/main.py", stages=2),

    # `npm install` with a lockfile copied in: not reproducible, unlike `npm ci`; and ~/.npm stays.
    "npm-install-lockfile": _case(r'''FROM node:20.11-bookworm-slim
ENV NODE_ENV=production
WORKDIR /home/node/app
COPY package.json package-lock.json ./
RUN npm install --omit=dev
COPY --chown=node:node . .
USER node
EXPOSE 3000
CMD ["node", "server.js"]
''', "npm-install-not-ci package-cache copy-without-link dockerignore-missing no-healthcheck user-not-numeric",
        "package.json package-lock.json server.js .git/HEAD node_modules/x/index.js"),

    # A global tool install is no lockfile install; pnpm's store is hard-linked into node_modules.
    "pnpm-global-store": _case(r'''FROM node:20-alpine3.19
RUN npm install -g pnpm@9.1.0 && npm cache clean --force
WORKDIR /app
COPY package.json pnpm-lock.yaml ./
RUN pnpm install --frozen-lockfile --prod
COPY . .
USER node
CMD ["node", "index.js"]
''', "copy-without-link dockerignore-missing no-healthcheck user-not-numeric",
        "package.json pnpm-lock.yaml index.js .git/HEAD"),

    # Debian's ruby generates ri/rdoc for every gem unless told --no-document (-N).
    "gem-install-docs": _case(r'''FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ruby && rm -rf /var/lib/apt/lists/*
RUN gem install --no-user-install rake:13.2.1 && gem install -N puma -v 6.4.2
WORKDIR /app
COPY config.ru ./
USER 10001
CMD ["puma", "config.ru"]
''', "package-unpinned gem-docs copy-without-link no-healthcheck", "config.ru"),

    # Two parser directives, a heredoc RUN that adds and deletes its build deps, a backtick continuation
    # with a comment inside, and a USER name whose uid the file gives.
    "heredoc-apk-escape": _case(r'''# syntax=docker/dockerfile:1.7
# escape=`
FROM python:3.12-alpine3.20
RUN <<EOF
set -eux
apk add --no-cache --virtual .build-deps gcc musl-dev libffi-dev
pip install --no-cache-dir cffi==1.16.0
apk del .build-deps
EOF
RUN apk add `
    # runtime libraries
    libffi `
    && adduser -D -u 10001 app
COPY --chown=10001:10001 app.py /home/app/
USER app
CMD ["python", "/home/app/app.py"]
''', "package-unpinned package-cache user-not-numeric copy-without-link no-healthcheck", "app.py"),

    # Ubuntu's apt Python with a compiler and headers, pip into a venv, the whole context copied.
    "ubuntu-python3-dev": _case(r'''FROM ubuntu:24.04
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y python3 python3-pip python3-venv python3-dev gcc libpq-dev
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt
COPY . /opt/app
WORKDIR /opt/app
CMD ["python3", "main.py"]
''', "package-unpinned apt-no-install-recommends apt-lists-not-removed build-tools-in-final-stage pip-cache runs-as-root "
        "copy-without-link dockerignore-missing no-healthcheck",
        "requirements.txt main.py .git/HEAD .venv/pyvenv.cfg"),

    # The rust image (a toolchain) ships, with the target directory.
    "rust-single-stage": _case(r'''FROM rust:1.79-slim-bookworm
WORKDIR /app
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked
CMD ["./target/release/app"]
''', "build-tools-in-final-stage runs-as-root copy-without-link no-healthcheck",
        "Cargo.toml Cargo.lock src/main.rs"),

    # composer from an external image with COPY --from; composer keeps its download cache.
    "php-composer-cache": _case(r'''FROM php:8.3-cli-bookworm
COPY --from=composer:2.7.7 /usr/bin/composer /usr/bin/composer
RUN apt-get update && apt-get install -y --no-install-recommends unzip && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY composer.json composer.lock ./
RUN composer install --no-dev --prefer-dist --no-interaction --no-scripts
COPY . .
USER www-data
CMD ["php", "bin/console", "app:run"]
''', "package-unpinned package-cache user-not-numeric copy-without-link dockerignore-missing no-healthcheck",
        "composer.json composer.lock bin/console .git/HEAD vendor/autoload.php"),

    # The final stage is chosen by a global ARG; the dev-dependencies stage is a builder.
    "stage-by-arg": _case(r'''ARG VARIANT=prod
FROM node:20.12-alpine3.19 AS base
WORKDIR /app
COPY package.json package-lock.json ./

FROM base AS deps-prod
RUN npm ci --omit=dev && npm cache clean --force

FROM base AS deps-dev
RUN npm ci && npm cache clean --force

FROM deps-${VARIANT} AS final
COPY . .
USER node
CMD ["node", "server.js"]
''', "no-cache-mount copy-without-link dockerignore-missing user-not-numeric no-healthcheck",
        "package.json package-lock.json server.js .git/HEAD", stages=4),

    # .NET: SDK builder, aspnet runtime, the image's own non-root uid through $APP_UID.
    "dotnet-sdk": _case(r'''FROM mcr.microsoft.com/dotnet/sdk:8.0 AS build
WORKDIR /src
COPY *.csproj ./
RUN dotnet restore
COPY . .
RUN dotnet publish -c Release -o /app/publish --no-restore

FROM mcr.microsoft.com/dotnet/aspnet:8.0-bookworm-slim
WORKDIR /app
COPY --from=build /app/publish .
USER $APP_UID
ENTRYPOINT ["dotnet", "App.dll"]
''', "dockerignore-missing copy-without-link no-healthcheck", "App.csproj Program.cs .git/HEAD bin/Debug/x.dll",
        stages=2),

    # Maven's image (JDK and maven) is the one that ships, with ~/.m2.
    "maven-single-stage": _case(r'''FROM maven:3.9.6-eclipse-temurin-21
WORKDIR /usr/src/app
COPY pom.xml .
RUN mvn -B -q dependency:go-offline
COPY src ./src
RUN mvn -B -q package -DskipTests
EXPOSE 8080
CMD ["java", "-jar", "target/app.jar"]
''', "build-tools-in-final-stage runs-as-root copy-without-link no-healthcheck",
        "pom.xml src/main/java/App.java"),

    # The Gradle wrapper on a JDK image: the JDK is the build toolchain here, and it ships with the jar.
    "gradle-wrapper-temurin-jdk": _case(r'''FROM eclipse-temurin:21.0.3_9-jdk-jammy
WORKDIR /workspace/app
COPY gradlew settings.gradle build.gradle ./
COPY gradle ./gradle
RUN ./gradlew --no-daemon dependencies
COPY src ./src
RUN ./gradlew --no-daemon bootJar -x test
RUN groupadd --system app && useradd --system --gid app --uid 10001 app
USER 10001
EXPOSE 8080
ENTRYPOINT ["java", "-jar", "build/libs/app.jar"]
''', "build-tools-in-final-stage copy-without-link no-healthcheck",
        "gradlew settings.gradle build.gradle gradle/wrapper/gradle-wrapper.properties src/main/java/App.java"),

    # Debian's own cargo, with OpenSSL's headers for a crate that links it, in the image that ships.
    "rust-debian-apt-cargo": _case(r'''FROM debian:bookworm-20240701-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends cargo pkg-config libssl-dev ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked --bin api
USER 65534
CMD ["/src/target/release/api"]
''', "package-unpinned build-tools-in-final-stage copy-without-link no-healthcheck",
        "Cargo.toml Cargo.lock src/main.rs src/bin/api.rs"),

    # Alpine's go with cgo off and cache mounts: the binary is static; the user is created in the file.
    "go-alpine-cgo-off": _case(r'''FROM alpine:3.20.1
RUN apk add --no-cache go ca-certificates tzdata
ENV CGO_ENABLED=0
WORKDIR /build
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/root/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags="-s -w" -o /usr/local/bin/svc ./cmd/svc
RUN adduser -D -u 10001 svc
USER svc
EXPOSE 9090
ENTRYPOINT ["svc"]
''', "package-unpinned build-tools-in-final-stage copy-without-link dockerignore-missing user-not-numeric no-healthcheck",
        "go.mod go.sum cmd/svc/main.go .git/HEAD"),

    # A Maven multi-module build of one module (`-pl api -am`): the jar is under the module's target/.
    "maven-multimodule-pl": _case(r'''FROM maven:3.9.8-eclipse-temurin-17
WORKDIR /build
COPY pom.xml .
COPY common/pom.xml common/
COPY api/pom.xml api/
RUN mvn -B -q dependency:go-offline
COPY common/src common/src
COPY api/src api/src
RUN mvn -B -q -pl api -am package -DskipTests
EXPOSE 8080
ENTRYPOINT ["java", "-jar", "/build/api/target/api.jar"]
''', "build-tools-in-final-stage runs-as-root copy-without-link no-healthcheck",
        "pom.xml common/pom.xml api/pom.xml common/src/main/java/Lib.java api/src/main/java/Api.java"),

    # The program is started by cargo itself: the toolchain is needed at run time, so no split is safe.
    "rust-cargo-run": _case(r'''FROM rust:1.80.1-slim-bookworm
WORKDIR /usr/src/app
COPY . .
RUN cargo build --release
CMD ["cargo", "run", "--release"]
''', "build-tools-in-final-stage runs-as-root copy-without-link dockerignore-missing no-healthcheck",
        "Cargo.toml Cargo.lock src/main.rs .git/HEAD", toolchain_stays="CMD runs `cargo`"),

    # `go build -o` into a path named by a build argument: the artifact's path is only known at build time.
    "go-output-from-arg": _case(r'''FROM golang:1.22.5-bookworm
ARG APP=server
WORKDIR /src
COPY . .
RUN go build -o /out/$APP ./cmd/$APP
CMD ["/out/server"]
''', "build-tools-in-final-stage package-cache runs-as-root copy-without-link dockerignore-missing no-healthcheck",
        "go.mod main.go cmd/server/main.go .git/HEAD", toolchain_stays="`-o /out/$APP`"),
}
