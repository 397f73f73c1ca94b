""".dockerignore semantics and the build-context audit.

Patterns follow moby's patternmatcher exactly (the code `docker build` and BuildKit run): each line is
trimmed, `#` lines are comments, `!` marks an exception, the pattern is cleaned like Go's filepath.Clean
and a leading `/` dropped; `*` and `?` never cross `/`, `**` crosses any number of directories, and a
pattern that matches a parent directory matches everything below it. The last matching pattern wins.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from collections.abc import Mapping
from pathlib import Path

from bot.ports import CoronerError


class DockerignoreError(CoronerError):
    """A .dockerignore pattern that Docker itself would reject."""

    exit_code = 2


@dataclass(frozen=True)
class Pattern:
    text: str  # cleaned, without the `!`
    exclusion: bool  # True for a `!` exception
    regex: re.Pattern[str]
    dirs: tuple[str, ...]  # the pattern split on `/`, to decide whether an exception can reach inside a dir


def parse_dockerignore(content: str, *, source: str = ".dockerignore") -> list[Pattern]:
    patterns: list[Pattern] = []
    for lineno, line in enumerate(content.splitlines(), 1):
        if line.startswith("#"):
            continue
        text = line.strip()
        if not text:
            continue
        invert = text.startswith("!")
        if invert:
            text = text[1:].strip()
        if text:
            text = _clean(text)
            if len(text) > 1 and text.startswith("/"):
                text = text[1:]
        try:
            regex = re.compile(_to_regex(text))
        except re.error as exc:
            raise DockerignoreError(f"{source}:{lineno}: bad pattern {line.strip()!r}: {exc}") from exc
        patterns.append(Pattern(text, invert, regex, tuple(text.split("/"))))
    return patterns


def _clean(path: str) -> str:
    """Go's filepath.Clean for slash paths."""
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def _to_regex(pattern: str) -> str:
    """moby patternmatcher's compile(): `**` -> `(.*/)?` (or `.*` at the end), `*` -> `[^/]*`, `?` -> `[^/]`."""
    out = ["^"]
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if i + 1 < n and pattern[i + 1] == "*":
                i += 2
                if i < n and pattern[i] == "/":
                    i += 1
                out.append(".*" if i >= n else "(.*/)?")
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\":
            if i + 1 < n:
                i += 1
                out.append(re.escape(pattern[i]))
            else:
                out.append(re.escape("\\"))
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j < 0:
                raise re.error("unterminated character class")
            body = pattern[i + 1 : j]
            if body.startswith(("^", "!")):
                body = "^" + body[1:]
            out.append("[" + body.replace("/", "") + "]")
            i = j
        else:
            out.append(re.escape(c))
        i += 1
    out.append("$")
    return "".join(out)


class Matcher:
    def __init__(self, patterns: list[Pattern]) -> None:
        self.patterns = patterns
        self.has_exceptions = any(p.exclusion for p in patterns)

    def excluded(self, path: str) -> bool:
        """moby's MatchesOrParentMatches: True when `path` (slash-separated, relative) is ignored."""
        parents = path.split("/")[:-1]
        matched = False
        for p in self.patterns:
            hit = bool(p.regex.match(path))
            if not hit and parents:
                for k in range(1, len(parents) + 1):
                    if p.regex.match("/".join(parents[:k])):
                        hit = True
                        break
            if hit:
                matched = not p.exclusion
        return matched

    def may_reinclude_below(self, directory: str) -> bool:
        """Whether an exception could re-include something inside an excluded directory (so walk it)."""
        if not self.has_exceptions:
            return False
        depth = directory.count("/") + 1
        for p in self.patterns:
            if not p.exclusion:
                continue
            if "**" in p.text:
                return True
            prefix = "/".join(p.dirs[:depth])
            if re.match(_to_regex(prefix), directory):
                return True
        return False


# What a .dockerignore should always hold, with a sample path that shows whether it is covered.
STANDARD_ENTRIES: tuple[tuple[str, str], ...] = (
    (".git", ".git/HEAD"),
    ("**/node_modules", "node_modules/x/package.json"),
    ("**/__pycache__", "pkg/__pycache__/m.cpython-311.pyc"),
    ("**/*.log", "logs/app.log"),
    (".env", ".env"),
)
_VENV_NAMES = frozenset({".venv", "venv", "env", ".virtualenv", "virtualenv"})
_JUNK_DIRS = frozenset(
    {".git", "node_modules", "__pycache__", ".tox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".idea",
     ".vscode", ".hg", ".svn", ".terraform", ".gradle", ".cache"}
)
DATA_EXTENSIONS = (".csv", ".tsv", ".parquet", ".feather", ".h5", ".hdf5", ".pkl", ".pickle", ".npy", ".npz",
                   ".sqlite", ".sqlite3", ".db", ".jsonl", ".arrow")
_SECRET_NAME = re.compile(
    r"^(\.env(\.(?!example$|sample$|template$|dist$)[\w.-]+)?|id_(rsa|dsa|ecdsa|ed25519)|.*\.(pem|key|p12|pfx|jks)|"
    r"\.npmrc|\.pypirc|\.netrc|\.git-credentials|credentials(\.json)?|.*\.kubeconfig|kubeconfig|"
    r"service[-_]account.*\.json)$"
)
LARGE_BYTES = 1024 * 1024  # an entry worth a .dockerignore line when it is sent


@dataclass(frozen=True)
class ContextEntry:
    path: str  # top-level name in the context, "/" suffixed for directories
    sent_bytes: int
    total_bytes: int
    kind: str = ""  # "git", "venv", "cache", "data", "secret" or ""


@dataclass(frozen=True)
class ContextAudit:
    root: str
    dockerignore: str | None  # the file that applies, or None
    total_bytes: int  # what would be sent with no .dockerignore
    total_files: int
    sent_bytes: int  # what is sent with the current .dockerignore
    sent_files: int
    largest: tuple[ContextEntry, ...]  # top-level entries, largest sent first
    junk: tuple[ContextEntry, ...]  # sent entries that should be ignored (.git, venvs, caches, data)
    secrets: tuple[str, ...]  # sent paths that look like credentials (names only, never contents)
    data_patterns: tuple[str, ...] = field(default_factory=tuple)  # e.g. "**/*.csv" when CSVs are sent
    unreadable: tuple[str, ...] = field(default_factory=tuple)  # paths the walk could not read: the totals miss them

    def to_json(self) -> dict[str, object]:
        return {
            "root": self.root,
            "dockerignore": self.dockerignore,
            "total_bytes": self.total_bytes,
            "total_files": self.total_files,
            "sent_bytes": self.sent_bytes,
            "sent_files": self.sent_files,
            "largest": [e.__dict__ for e in self.largest],
            "junk": [e.__dict__ for e in self.junk],
            "secrets": list(self.secrets),
            "unreadable": list(self.unreadable),
        }


def _is_file(path: Path) -> bool:
    """`Path.is_file`, but a path we may not look at is no file (pathlib raises PermissionError there)."""
    try:
        return path.is_file()
    except OSError:
        return False


def find_dockerignore(context: Path, dockerfile: str | None = None) -> Path | None:
    """BuildKit reads `<Dockerfile>.dockerignore` next to the Dockerfile first, then `<context>/.dockerignore`."""
    if dockerfile:
        specific = Path(dockerfile).with_name(Path(dockerfile).name + ".dockerignore")
        if _is_file(specific):
            return specific
    candidate = context / ".dockerignore"
    return candidate if _is_file(candidate) else None


def read_dockerignore(path: Path) -> str:
    """The file's text. `docker build` fails on a .dockerignore it cannot read, so this is an error too."""
    try:
        return path.read_text(encoding="utf-8", errors="surrogateescape")  # written back as read by `fix --write`
    except OSError as exc:
        raise DockerignoreError(f"cannot read {path}: {exc.strerror or exc}") from exc


def audit(context: Path, *, dockerfile: str | None = None, top: int = 10) -> ContextAudit:
    """Walk the context once: what `docker build` sends without and with the current .dockerignore."""
    ignore_file = find_dockerignore(context, dockerfile)
    patterns = parse_dockerignore(read_dockerignore(ignore_file), source=str(ignore_file)) if ignore_file else []
    matcher = Matcher(patterns)
    per_top: dict[str, list[int]] = {}  # name -> [sent, total]
    is_dir: dict[str, bool] = {}
    kinds: dict[str, str] = {}
    secrets: list[str] = []
    data_bytes: dict[str, int] = {}
    totals = [0, 0, 0, 0]  # total_bytes, total_files, sent_bytes, sent_files

    unreadable: list[str] = []  # docker build fails on these unless they are ignored; say so, never hide it

    def walk(directory: Path, rel: str, excluded_dir: bool) -> None:
        try:
            entries = list(os.scandir(directory))
        except OSError:
            unreadable.append(rel or ".")
            return
        for entry in entries:
            path = f"{rel}/{entry.name}" if rel else entry.name
            top_name = path.split("/", 1)[0]
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                unreadable.append(path)
                continue
            excluded = excluded_dir or (matcher.excluded(path) if patterns else False)
            if stat.S_ISDIR(st.st_mode):
                if not rel:
                    is_dir[top_name] = True
                # Below the top level, a junk directory the .dockerignore already excludes does not make its
                # top entry junk: with `**/__pycache__` ignored, `bot/` holding `bot/__pycache__` is source.
                labels_top = not (excluded and rel)
                if entry.name in _JUNK_DIRS and labels_top and top_name not in kinds:
                    kinds[top_name] = "git" if entry.name == ".git" else "cache"
                venv_marker = _is_file(Path(entry.path) / "pyvenv.cfg")
                is_venv = venv_marker or (entry.name in _VENV_NAMES and _is_file(Path(entry.path) / "bin" / "activate"))
                if is_venv and labels_top:
                    kinds.setdefault(top_name, "venv")
                # an excluded directory stays excluded below unless an exception can reach inside it
                below_excluded = excluded and not matcher.may_reinclude_below(path)
                walk(Path(entry.path), path, below_excluded)
                continue
            size = st.st_size
            totals[0] += size
            totals[1] += 1
            bucket = per_top.setdefault(top_name, [0, 0])
            bucket[1] += size
            if not excluded:
                totals[2] += size
                totals[3] += 1
                bucket[0] += size
                if _SECRET_NAME.match(entry.name):
                    secrets.append(path)
                low = entry.name.lower()
                for ext in DATA_EXTENSIONS:
                    if low.endswith(ext):
                        data_bytes[ext] = data_bytes.get(ext, 0) + size
                        break

    walk(context, "", False)
    entries = [
        ContextEntry(name + ("/" if is_dir.get(name) else ""), sent, total, kinds.get(name, ""))
        for name, (sent, total) in per_top.items()
    ]
    entries.sort(key=lambda e: (-e.sent_bytes, -e.total_bytes, e.path))
    junk = tuple(e for e in entries if e.kind and e.sent_bytes > 0)
    data_patterns = tuple(f"**/*{ext}" for ext, size in sorted(data_bytes.items()) if size >= LARGE_BYTES)
    return ContextAudit(
        root=str(context),
        dockerignore=str(ignore_file) if ignore_file else None,
        total_bytes=totals[0],
        total_files=totals[1],
        sent_bytes=totals[2],
        sent_files=totals[3],
        largest=tuple(entries[:top]),
        junk=junk,
        secrets=tuple(sorted(secrets)),
        data_patterns=data_patterns,
        unreadable=tuple(sorted(unreadable)),
    )


def missing_standard_entries(patterns: list[Pattern]) -> list[str]:
    matcher = Matcher(patterns)
    return [entry for entry, sample in STANDARD_ENTRIES if not matcher.excluded(sample)]


_TEST_DIRS = frozenset({"tests", "test", "testdata", "test_data", "fixtures", "__tests__", "spec", "specs"})
_DATA_DIRS = frozenset({"data", "fixtures", "testdata", "test_data", "samples", "datasets"})
_SITE_PACKAGES = re.compile(r"^lib/python[0-9.]*/site-packages(/|$)")


@dataclass(frozen=True)
class SeenPath:
    """A path of the build context that an image's `COPY .` layer holds and the image should not."""

    path: str  # relative to the context: `.git`, `.venv`, `tests/data`, `config/.env`
    size_bytes: int
    kind: str  # "git", "venv", "cache", "test-data", "secret"


def unshipped_paths(files: Mapping[str, int]) -> list[SeenPath]:
    """What of `files` should not ship, each named by the directory or file a .dockerignore line should
    hold, largest first. `files` maps context paths to bytes: files or directories, as an image autopsy
    lists a `COPY . .` layer's largest paths (`.git`, `app/.venv`, `tests/data`)."""
    sizes: dict[str, int] = {}
    kinds: dict[str, str] = {}
    for raw, size in files.items():
        parts = raw.strip("/").split("/")
        for k, part in enumerate(parts):
            below = "/".join(parts[k + 1 :])
            last = k == len(parts) - 1
            kind = ""
            if part == ".git":
                kind = "git"
            elif (part in _VENV_NAMES and (not last or part != "env")) or _SITE_PACKAGES.match(below) \
                    or below == "pyvenv.cfg":
                kind = "venv"
            elif part in _JUNK_DIRS:
                kind = "cache"
            elif last and _SECRET_NAME.match(part):
                kind = "secret"
            elif last and _TEST_DIRS & set(parts[:-1]) and (
                    part.lower().endswith(DATA_EXTENSIONS) or part in _DATA_DIRS or size >= LARGE_BYTES):
                kind = "test-data"
                if part.lower().endswith(DATA_EXTENSIONS) and k > 0:
                    k -= 1  # a data file: its directory is the line (`tests/data`, not each CSV)
            elif last and part.lower().endswith(DATA_EXTENSIONS) and size >= LARGE_BYTES:
                kind = "data"  # outside the tests: only the data files of that directory, not its code
                ext = next(e for e in DATA_EXTENSIONS if part.lower().endswith(e))
                parts = [*parts[:-1], "**", f"*{ext}"] if k > 0 else [f"*{ext}"]
                k = len(parts) - 1
            if kind:
                path = "/".join(parts[: k + 1])
                sizes[path] = sizes.get(path, 0) + size
                kinds.setdefault(path, kind)
                break
    seen = [SeenPath(path, size, kinds[path]) for path, size in sizes.items()]
    return sorted(seen, key=lambda s: (-s.size_bytes, s.path))


def recommended_dockerignore(audit_result: ContextAudit | None, seen: list[SeenPath] | None = None) -> list[str]:
    """The lines a .dockerignore should have: the standard ones, plus what this context actually holds.

    `seen`: paths an image's `COPY .` layer held that should not ship; each gets its own uncommented
    line, by its path relative to the context, ahead of the standard lines."""
    from bot.units import human_bytes

    evidence: list[str] = []
    if seen:
        sizes = ", ".join(f"{s.path} ({human_bytes(s.size_bytes)})" for s in seen)
        evidence = ["# Seen in the image's `COPY .` layer, not needed at run time: " + sizes,
                    *(s.path for s in seen)]
    lines = [
        "# Written by `coroner fix`: keep the build context to what the image needs.",
        ".git",
        "**/node_modules",
        "**/__pycache__",
        "**/*.py[co]",
        "**/*.log",
        ".env",
        ".env.*",
        "!.env.example",
        "**/.venv",
        "**/venv",
        ".pytest_cache",
        ".mypy_cache",
    ]
    if evidence:
        lines = [lines[0], *evidence, "# Never needed in an image:",
                 *(line for line in lines[1:] if line not in evidence)]
    if audit_result is None and seen:
        return lines  # the image showed what the context holds: no guesses about data files
    if audit_result is None:
        lines += [
            "# Data files: uncomment the ones the image does not need at run time.",
            *(f"# **/*{ext}" for ext in (".csv", ".parquet", ".pkl", ".sqlite")),
        ]
        return lines
    for entry in audit_result.junk:
        name = entry.path.rstrip("/")
        if entry.kind == "venv" and name not in (".venv", "venv"):
            lines.append(name)
        elif entry.kind == "cache" and name not in (".git", "node_modules", "__pycache__", ".pytest_cache", ".mypy_cache"):
            lines.append(name)
    lines += list(audit_result.data_patterns)
    for secret in audit_result.secrets:
        if not Matcher(parse_dockerignore("\n".join(lines))).excluded(secret):
            lines.append(secret)
    return lines
