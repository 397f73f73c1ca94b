"""The dockerfile check lints the catalog's Dockerfile with the Dockerfile doctor."""

from bot.catalog import CatalogEntry
from bot.checks import dockerfile

BAD = """FROM python:3.12
COPY . .
RUN apt-get update && apt-get install -y build-essential cuda-toolkit-12-4
RUN pip install -r requirements.txt
CMD ["python", "app.py"]
"""


def test_lints_the_catalog_dockerfile(meltdown, ctx_of, tmp_path):
    path = tmp_path / "Dockerfile"
    path.write_text(BAD)
    (tmp_path / ".git").mkdir()
    entry = CatalogEntry(name="user-profile-service", namespace="prod", dockerfile=path)
    findings = dockerfile.run(ctx_of(meltdown, entry=entry), dockerfile.DockerfileParams())
    rules = {f.rule for f in findings}
    assert findings and all(f.check for f in findings)
    assert {"build-tools-in-final-stage", "dockerignore-missing", "apt-no-install-recommends"} <= rules
    fix = next(f for f in findings if f.rule == "dockerfile-fix")
    assert fix.evidence["diff"].startswith("--- a/")
    assert "--no-install-recommends" in fix.evidence["diff"]
    assert ".git" in (fix.evidence["dockerignore"] or "")


def test_lint_only_when_asked(meltdown, ctx_of, tmp_path):
    path = tmp_path / "Dockerfile"
    path.write_text(BAD)
    entry = CatalogEntry(name="user-profile-service", namespace="prod", dockerfile=path)
    findings = dockerfile.run(ctx_of(meltdown, entry=entry), dockerfile.DockerfileParams(propose_fix=False))
    assert "dockerfile-fix" not in {f.rule for f in findings}


def test_unparsable_dockerfile_is_a_named_error(meltdown, ctx_of, tmp_path):
    import pytest

    from bot.dockerfile.parser import DockerfileParseError

    path = tmp_path / "Dockerfile"
    path.write_text("RUN echo before any FROM\n")
    entry = CatalogEntry(name="x", namespace="prod", dockerfile=path)
    # Raised to the runner, which turns it into this check's check-failed finding.
    with pytest.raises(DockerfileParseError, match=rf"{path}:1: RUN before the first FROM"):
        dockerfile.run(ctx_of(meltdown, entry=entry), dockerfile.DockerfileParams())


def test_a_dockerfile_kept_apart_from_its_sources_is_not_measured_as_a_context(meltdown, ctx_of, tmp_path):
    # A catalog may point at a copy of the Dockerfile: a "context" of that one file would report
    # "the build sends 586 B", which is not what the build sent.
    path = tmp_path / "Dockerfile"
    path.write_text(BAD)
    entry = CatalogEntry(name="x", namespace="prod", dockerfile=path)
    findings = dockerfile.run(ctx_of(meltdown, entry=entry), dockerfile.DockerfileParams())
    (missing,) = [f for f in findings if f.rule == "dockerignore-missing"]
    assert "the build sends" not in missing.title


def test_no_dockerfile_in_catalog_gives_nothing(meltdown, ctx_of):
    assert dockerfile.run(ctx_of(meltdown), dockerfile.DockerfileParams()) == []


def test_missing_file_is_named(meltdown, ctx_of, tmp_path):
    entry = CatalogEntry(name="x", namespace="prod", dockerfile=tmp_path / "nope")
    (f,) = dockerfile.run(ctx_of(meltdown, entry=entry), dockerfile.DockerfileParams())
    assert f.rule == "check-failed" and "does not exist" in f.title
