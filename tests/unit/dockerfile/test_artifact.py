"""The artifact split (bot/dockerfile/artifact.py) through `fix` and `lint`: where the artifact goes, which
runtime base it lands on, and, where the Dockerfile does not show the artifact, the reason the finding gives."""

from __future__ import annotations

import pytest

from bot.dockerfile.fix import fix
from bot.dockerfile.parser import Stage, parse
from bot.dockerfile.rules import lint


def final(text: str) -> Stage:
    return parse(fix(text).text).final_stage


def copies_from_build(stage: Stage) -> list[str]:
    return [i.arguments for i in stage.instructions if i.keyword == "COPY" and i.flag("from") == "build"]


def toolchain_left(text: str) -> bool:
    return any(f.rule == "build-tools-in-final-stage" for f in lint(parse(fix(text).text)))


def why_not(text: str) -> str:
    """The reason the build-tools finding gives for not being fixable (the same words `coroner fix` notes)."""
    found = [f for f in lint(parse(text)) if f.rule == "build-tools-in-final-stage"]
    assert found and not any(f.evidence["fixable"] for f in found)
    reasons = {str(f.evidence.get("why_not")) for f in found}
    assert len(reasons) == 1, reasons
    note = [n for n in fix(text).notes if n.startswith("build-tools-in-final-stage (")]
    assert note and all(reasons.pop() in n for n in note[:1])
    return str(found[0].evidence["why_not"])


def test_a_binary_copied_out_of_target_is_what_ships() -> None:
    text = ("FROM rust:1.80-slim-bookworm\nWORKDIR /src\nCOPY . .\n"
            "RUN cargo build --release && cp target/release/server /usr/local/bin/\nUSER 10001\nCMD [\"server\"]\n")
    stage = final(text)
    assert stage.base_image == "debian:bookworm-slim"
    assert copies_from_build(stage) == ["/usr/local/bin/server /usr/local/bin/server"]
    assert not toolchain_left(text)


def test_cargo_install_moves_the_binary_onto_the_runtime_path() -> None:
    # /usr/local/cargo/bin is on the rust image's PATH only: a CMD by bare name needs /usr/local/bin
    text = "FROM rust:1.80-bookworm\nWORKDIR /src\nCOPY . .\nRUN cargo install --locked --path .\nCMD [\"tool\"]\n"
    stage = final(text)
    assert copies_from_build(stage) == ["/usr/local/cargo/bin/tool /usr/local/bin/tool"]
    assert stage.instructions[-1].exec_form == ("tool",)


def test_the_full_rust_image_carried_openssl_and_the_ca_bundle() -> None:
    text = ("FROM rust:1.80-bullseye\nWORKDIR /src\nCOPY . .\nRUN cargo build --release --bin api\n"
            "USER 10001\nCMD [\"/src/target/release/api\"]\n")
    stage = final(text)
    assert stage.base_image == "debian:bullseye-slim"
    installs = " ".join(i.arguments for i in stage.instructions if i.keyword == "RUN")
    assert "ca-certificates" in installs and "libssl1.1" in installs  # bullseye's OpenSSL


def test_a_jdk_from_apt_is_swapped_for_its_jre_on_the_same_base() -> None:
    text = ("FROM ubuntu:22.04\n"
            "RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jdk maven ca-certificates"
            " && rm -rf /var/lib/apt/lists/*\n"
            "WORKDIR /app\nCOPY pom.xml .\nCOPY src src\nRUN mvn -B package\nUSER 10001\n"
            "CMD [\"java\", \"-jar\", \"target/app-1.0.jar\"]\n")
    stage = final(text)
    assert stage.base_image == "ubuntu:22.04"
    run = next(i.arguments for i in stage.instructions if i.keyword == "RUN")
    assert "openjdk-17-jre-headless" in run and "ca-certificates" in run
    assert "maven" not in run and "openjdk-17-jdk" not in run
    assert copies_from_build(stage) == ["/app/target/app-1.0.jar /app/target/app-1.0.jar"]
    assert not toolchain_left(text)


@pytest.mark.parametrize(("base", "runtime"), [
    ("maven:3.9-eclipse-temurin-17-alpine", "eclipse-temurin:17-jre-alpine"),
    ("gradle:8.10-jdk21-jammy", "eclipse-temurin:21-jre-jammy"),
    ("eclipse-temurin:17-jdk", "eclipse-temurin:17-jre"),
])
def test_a_java_toolchain_image_gives_way_to_the_jre_of_its_version(base: str, runtime: str) -> None:
    build = "mvn -B package" if base.startswith(("maven", "eclipse")) else "gradle build"
    out = "target" if "mvn" in build else "build/libs"
    text = f"FROM {base}\nWORKDIR /w\nCOPY . .\nRUN {build}\nUSER 10001\nCMD [\"java\", \"-jar\", \"{out}/app.jar\"]\n"
    stage = final(text)
    assert stage.base_image == runtime
    assert copies_from_build(stage) == [f"/w/{out}/app.jar /w/{out}/app.jar"]


def test_a_jar_found_by_a_glob_is_copied_into_its_directory() -> None:
    text = "FROM maven:3.9-eclipse-temurin-21\nWORKDIR /w\nCOPY . .\nRUN mvn package\nUSER 10001\nCMD java -jar target/*.jar\n"
    assert copies_from_build(final(text)) == ["/w/target/*.jar /w/target/"]


def test_setup_runs_stay_and_the_final_stage_keeps_its_name() -> None:
    text = ("FROM golang:1.22-alpine3.20 AS app\nRUN adduser -D -u 10001 app\nWORKDIR /src\nCOPY . .\n"
            "RUN go build -o /bin/app .\nUSER app\nCMD [\"/bin/app\"]\n")
    d = parse(fix(text).text)
    assert [s.name for s in d.stages] == ["build", "app"]
    assert d.final_stage.base_image == "alpine:3.20"  # cgo is on: the binary loads the musl it was built with
    assert any(i.keyword == "RUN" and "adduser" in i.arguments for i in d.final_stage.instructions)


@pytest.mark.parametrize(("text", "reason"), [
    ("FROM rust:1.80\nWORKDIR /src\nCOPY . .\nRUN cargo build\nCMD [\"./run.sh\"]\n",
     "a debug build: no --release) names no binary (`--bin`)"),
    ("FROM maven:3.9-eclipse-temurin-21\nWORKDIR /w\nCOPY . .\nRUN mvn package\nCMD [\"sh\", \"start.sh\"]\n",
     "is named by pom.xml"),
    ("FROM maven:3.9.6\nWORKDIR /w\nCOPY . .\nRUN mvn package\nCMD [\"java\", \"-jar\", \"target/a.jar\"]\n",
     "does not name its JDK version"),
    ("FROM golang:1.22\nWORKDIR /src\nCOPY . .\nRUN go build\nCMD [\"./app\"]\n", "has no `-o`"),
    ("FROM golang:1.22\nWORKDIR /src\nCOPY . .\nARG OUT=/bin/app\nRUN go build -o $OUT .\nCMD [\"/bin/app\"]\n",
     "`-o $OUT` of line 5 is decided at build time"),
    ("FROM golang:1.22\nWORKDIR /src\nCOPY . .\nRUN go build -o /app .\nCMD [\"go\", \"run\", \".\"]\n",
     "CMD runs `go`, which needs the toolchain at run time"),
    ("FROM rust:1.80-slim\nWORKDIR /s\nRUN curl -fsSL https://example.com/protoc.zip -o /tmp/p.zip\nCOPY . .\n"
     "RUN cargo build --release --bin a\nCMD [\"/s/target/release/a\"]\n", "line 3 runs `curl`"),
    ("FROM rust:1.80-slim\nWORKDIR /s\nCOPY . .\nRUN cargo build --release --bin a\n"
     "HEALTHCHECK CMD curl -f http://localhost/ || exit 1\nCMD [\"/s/target/release/a\"]\n",
     "HEALTHCHECK runs `curl`, which debian:bookworm-slim does not have"),
    ("FROM debian:12\nRUN apt-get update && apt-get install -y cargo libfoo-dev\nWORKDIR /s\nCOPY . .\n"
     "RUN cargo build --release --bin a\nCMD [\"/s/target/release/a\"]\n", "may link libfoo-dev"),
])
def test_what_the_dockerfile_does_not_show_is_not_guessed(text: str, reason: str) -> None:
    assert reason in why_not(text)
    assert toolchain_left(text)


def test_a_jdk_that_only_runs_a_jar_stays_base_image_heavy() -> None:
    rules = {f.rule for f in lint(parse("FROM eclipse-temurin:21-jdk\nCOPY app.jar /app.jar\nCMD [\"java\", \"-jar\", \"/app.jar\"]\n"))}
    assert "base-image-heavy" in rules and "build-tools-in-final-stage" not in rules


def test_distroless_already_has_the_ca_bundle_an_install_asked_for() -> None:
    text = ("FROM golang:1.23-alpine\nRUN apk add --no-cache git ca-certificates tzdata && update-ca-certificates\n"
            "WORKDIR /src\nCOPY . .\nRUN CGO_ENABLED=0 go build -o /out/svc ./cmd/svc\nCMD [\"/out/svc\"]\n")
    stage = final(text)
    assert stage.base_image == "gcr.io/distroless/static-debian12:nonroot"
    assert [i.keyword for i in stage.instructions[1:]] == ["WORKDIR", "COPY", "CMD"]


def test_a_runtime_package_distroless_cannot_install_blocks_the_move() -> None:
    text = ("FROM golang:1.23\nRUN apt-get update && apt-get install -y --no-install-recommends ffmpeg\n"
            "WORKDIR /src\nCOPY . .\nRUN CGO_ENABLED=0 go build -o /out/svc .\nCMD [\"/out/svc\"]\n")
    assert "installs ffmpeg, and gcr.io/distroless/static-debian12:nonroot has no package manager" in why_not(text)
