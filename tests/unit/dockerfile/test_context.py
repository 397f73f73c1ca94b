""".dockerignore semantics follow moby's patternmatcher; the audit measures what `docker build` sends."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.dockerfile.context import (
    DockerignoreError,
    Matcher,
    audit,
    find_dockerignore,
    missing_standard_entries,
    parse_dockerignore,
    recommended_dockerignore,
)


def excluded(patterns: str, path: str) -> bool:
    return Matcher(parse_dockerignore(patterns)).excluded(path)


@pytest.mark.parametrize(
    ("patterns", "path", "expected"),
    [
        ("**", "a/b/c", True),
        ("**/*.go", "file.go", True),
        ("**/*.go", "a/b/file.go", True),
        ("*.log", "x.log", True),
        ("*.log", "logs/x.log", False),  # `*` never crosses a directory
        ("**/*.log", "logs/deep/x.log", True),
        ("/foo", "foo", True),  # a leading slash is dropped
        ("/foo", "a/foo", False),
        ("docs", "docs/a/b.md", True),  # a matching parent excludes everything below
        ("docs\n!docs/keep.md", "docs/keep.md", False),
        ("docs\n!docs/keep.md", "docs/other.md", True),
        ("*.md\n!README.md", "README.md", False),
        ("*.md\n!README.md", "CHANGES.md", True),
        ("!a\na", "a", True),  # the last match wins
        ("a\n!a", "a", False),
        ("a/**/b", "a/b", True),
        ("a/**/b", "a/x/y/b", True),
        ("a/**/b", "c/a/b", False),
        ("a?c", "abc", True),
        ("a?c", "a/c", False),
        ("[a-c].txt", "b.txt", True),
        ("[a-c].txt", "d.txt", False),
        ("[^a].txt", "a.txt", False),
        ("\\*.txt", "*.txt", True),
        ("\\*.txt", "a.txt", False),
        ("./foo/../bar", "bar", True),
        ("foo/", "foo/x", True),
        ("  spaced.txt  ", "spaced.txt", True),
        ("# comment\n", "# comment", False),
        (" # not-a-comment", "# not-a-comment", True),  # comments only at column 0, as in moby
        ("node_modules", "app/node_modules/x", False),
        ("**/node_modules", "app/node_modules/x", True),
        (".git", ".git/HEAD", True),
        ("", "anything", False),
    ],
)
def test_patterns(patterns: str, path: str, expected: bool) -> None:
    assert excluded(patterns, path) is expected


def test_bad_pattern_is_a_clear_error() -> None:
    with pytest.raises(DockerignoreError) as info:
        parse_dockerignore("ok\n[abc\n", source="ctx/.dockerignore")
    assert "ctx/.dockerignore:2" in str(info.value)
    assert info.value.exit_code == 2


def test_standard_entries() -> None:
    assert missing_standard_entries(parse_dockerignore(".git\n")) == ["**/node_modules", "**/__pycache__", "**/*.log", ".env"]
    assert missing_standard_entries(parse_dockerignore("**\n!app\n")) == []


def _sized(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.truncate(size)


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    _sized(tmp_path / ".git" / "objects" / "pack", 3_000_000)
    _sized(tmp_path / "venv" / "bin" / "python", 5_000_000)
    (tmp_path / "venv" / "pyvenv.cfg").write_text("home = /usr\n")
    _sized(tmp_path / "data" / "train.csv", 2_000_000)
    _sized(tmp_path / "src" / "app.py", 1000)
    _sized(tmp_path / "docs" / "keep.md", 10)
    _sized(tmp_path / "docs" / "drop.md", 20)
    (tmp_path / ".env").write_text("TOKEN=x\n")
    return tmp_path


def test_audit_without_dockerignore(ctx: Path) -> None:
    a = audit(ctx)
    assert a.dockerignore is None
    assert a.total_bytes == a.sent_bytes == 3_000_000 + 5_000_000 + len("home = /usr\n") + 2_000_000 + 1000 + 30 + len("TOKEN=x\n")
    assert a.largest[0].path == "venv/" and a.largest[0].kind == "venv"
    assert {e.path for e in a.junk} == {"venv/", ".git/"}
    assert a.secrets == (".env",)
    assert a.data_patterns == ("**/*.csv",)


def test_audit_with_dockerignore_and_exception(ctx: Path) -> None:
    (ctx / ".dockerignore").write_text(".git\nvenv\n**/*.csv\n.env\ndocs\n!docs/keep.md\n")
    a = audit(ctx)
    assert a.dockerignore == str(ctx / ".dockerignore")
    assert a.sent_bytes == 1000 + 10 + len(".git\nvenv\n**/*.csv\n.env\ndocs\n!docs/keep.md\n")
    assert a.total_bytes > 10_000_000
    assert a.junk == () and a.secrets == ()
    docs = [e for e in a.largest if e.path == "docs/"][0]
    assert (docs.sent_bytes, docs.total_bytes) == (10, 30)


def test_dockerfile_specific_ignore_file_wins(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("a\n")
    (tmp_path / "api.Dockerfile.dockerignore").write_text("b\n")
    assert find_dockerignore(tmp_path, str(tmp_path / "api.Dockerfile")) == tmp_path / "api.Dockerfile.dockerignore"
    assert find_dockerignore(tmp_path, str(tmp_path / "Dockerfile")) == tmp_path / ".dockerignore"


def test_recommended_dockerignore_covers_what_the_context_holds(ctx: Path) -> None:
    lines = recommended_dockerignore(audit(ctx))
    m = Matcher(parse_dockerignore("\n".join(lines)))
    for path in (".git/HEAD", "venv/bin/python", "data/train.csv", ".env", "x/__pycache__/a.pyc", "app.log"):
        assert m.excluded(path), path
    for path in ("src/app.py", "Dockerfile", "requirements.txt", ".env.example"):
        assert not m.excluded(path), path


def test_unreadable_directory_is_reported_not_hidden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "x").write_bytes(b"x" * 10)
    (tmp_path / "app.py").write_text("print()\n")
    real_scandir = os.scandir

    def scandir(path):  # type: ignore[no-untyped-def]
        # chmod 000 does not stop root (the test runner here), so refuse the directory the way the kernel would
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = audit(tmp_path)
    assert result.unreadable == ("locked",)
    assert result.to_json()["unreadable"] == ["locked"]
    assert result.total_files == 1


def test_an_ignored_cache_below_a_source_directory_does_not_make_it_junk(tmp_path: Path) -> None:
    # Any Python checkout after a run: bot/__pycache__ next to the sources, ignored by `**/__pycache__`.
    _sized(tmp_path / "bot" / "app.py", 1000)
    _sized(tmp_path / "bot" / "__pycache__" / "app.cpython-311.pyc", 800)
    _sized(tmp_path / "app" / ".venv" / "pyvenv.cfg", 10)
    _sized(tmp_path / "app" / "main.py", 100)
    (tmp_path / ".dockerignore").write_text("**/__pycache__\n**/.venv\n")
    assert audit(tmp_path).junk == ()
    # Without the .dockerignore the same cache and venv are sent, and their top entries are junk.
    (tmp_path / ".dockerignore").unlink()
    assert {e.path for e in audit(tmp_path).junk} == {"bot/", "app/"}
