"""What a path in a layer is: the categories the image rules care about, and the "meaningful
directory" it belongs to (`app/.git`, `app/.venv`, `usr/local/cuda-12.1`), so sizes are reported per
culprit rather than per file. Pure functions of the path (and, for `.npmrc`, of bytes a reader peeked at): no I/O, no SDK.
"""

from __future__ import annotations

import re

VCS_DIRS = frozenset({".git", ".hg", ".svn"})
VENV_DIRS = frozenset({".venv", "venv", ".virtualenv", "virtualenv"})
DEPENDENCY_DIRS = frozenset({"node_modules", "vendor", "bower_components"})

DATA_SUFFIXES = (
    ".csv", ".tsv", ".csv.gz", ".parquet", ".feather", ".arrow", ".orc", ".avro", ".jsonl", ".ndjson",
    ".xlsx", ".xls", ".h5", ".hdf5", ".npy", ".npz", ".pkl", ".pickle",
    ".sql", ".sql.gz", ".dump", ".bak", ".sqlite", ".sqlite3", ".db",
    ".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".7z", ".rar",
)  # fmt: skip

# Paths shipped by distributions and language runtimes: their data and key files are not the user's.
SYSTEM_PREFIXES = ("usr/", "lib/", "lib64/", "bin/", "sbin/", "etc/ssl/", "etc/pki/", "proc/", "sys/")

SETID_BITS = 0o6000  # setuid, setgid
# Where package managers install their own setuid programs (su, passwd, mount, ping, ssh-keysign).
SETID_SYSTEM_PREFIXES = ("bin/", "sbin/", "usr/bin/", "usr/sbin/", "usr/lib/", "usr/lib64/", "usr/libexec/", "lib/", "lib64/")

SECRET_NAMES = frozenset(
    {
        ".npmrc", ".pypirc", ".netrc", ".pgpass", ".git-credentials", ".htpasswd",
        "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "credentials.json", "service-account.json",
        "secrets.yaml", "secrets.yml", "secrets.json", ".vault-token",
    }
)  # fmt: skip
SECRET_SUFFIXES = (".pem", ".key", ".p12", ".pfx", ".jks", ".keystore")
ENV_TEMPLATE_SUFFIXES = (".example", ".sample", ".template", ".dist", ".defaults")

TOOLCHAIN_BIN = re.compile(
    r"^usr/(local/)?bin/(gcc|g\+\+|cc|c\+\+|cpp|clang|clang\+\+|cmake|rustc|cargo|gfortran|nvcc|ld|as)(-[\d.]+)?$"
)
TOOLCHAIN_DIRS = (
    re.compile(r"^usr/local/cuda(-[\d.]+)?(?=/|$)"),
    re.compile(r"^usr/lib/(x86_64-linux-gnu/|aarch64-linux-gnu/)?gcc(?=/|$)"),
    re.compile(r"^usr/libexec/gcc(?=/|$)"),
    re.compile(r"^usr/lib/llvm-[\d.]+(?=/|$)"),
    re.compile(r"^usr/share/cmake(-[\d.]+)?(?=/|$)"),
    re.compile(r"^usr/local/go(?=/|$)"),
    re.compile(r"^usr/lib/(x86_64-linux-gnu|aarch64-linux-gnu)/libnvidia-[^/]*$"),
    re.compile(r"^usr/include(?=/|$)"),
)

CACHE_DIRS = (
    re.compile(r"^var/lib/apt/lists(?=/)"),
    re.compile(r"^var/cache/apt(?=/)"),
    re.compile(r"^var/cache/apk(?=/)"),
    re.compile(r"^var/cache/(yum|dnf)(?=/)"),
    re.compile(r"^(.*/)?\.cache/(pip|yarn|go-build|pypoetry)(?=/)"),
    re.compile(r"^(.*/)?\.npm(?=/)"),
    re.compile(r"^usr/local/share/\.cache/yarn(?=/)"),
)
# Files apt keeps in its list directory even when cleaned.
CACHE_IGNORED = frozenset({"lock"})


def vcs_root(path: str) -> str | None:
    parts = path.split("/")
    for idx, part in enumerate(parts):
        if part in VCS_DIRS:
            return "/".join(parts[: idx + 1])
    return None


def dependency_root(path: str) -> str | None:
    """The outermost node_modules / vendor / venv directory holding `path`."""
    parts = path.split("/")
    for idx, part in enumerate(parts[:-1]):
        if part in DEPENDENCY_DIRS or part in VENV_DIRS:
            return "/".join(parts[: idx + 1])
    if parts[-1] == "pyvenv.cfg" and len(parts) > 1:
        return "/".join(parts[:-1])
    return None


def is_system(path: str) -> bool:
    return path.startswith(SYSTEM_PREFIXES)


def is_data_file(path: str) -> bool:
    lower = path.lower()
    return lower.endswith(DATA_SUFFIXES) and not is_system(path) and "/node_modules/" not in lower


# Files that are credentials only when they hold a literal token; the layer readers peek at them.
PEEKED_NAMES = frozenset({".npmrc"})
PEEK_MAX_BYTES = 64 * 1024
# `//registry/:_authToken=npm_…`, `_auth=…`, `_password=…`; `${NPM_TOKEN}` is a reference, not a token.
_NPM_TOKEN = re.compile(rb"(?m)^\s*(?:\S*:)?_(?:authToken|auth|password)\s*=\s*(?!\$\{)\S")


def holds_token(name: str, data: bytes) -> bool:
    return bool(_NPM_TOKEN.search(data)) if name == ".npmrc" else False


def secret_kind(path: str, token: bool | None = None) -> str | None:
    """A name for the kind of secret the file probably holds, or None. `token` is what a reader found
    inside a peeked file (`.npmrc`): False clears it, None (not read) keeps the suspicion."""
    name = path.rpartition("/")[2]
    if is_system(path) and not path.startswith("usr/src/app/"):
        return None
    if name in PEEKED_NAMES and token is False:
        return None
    if name == ".env" or (name.startswith(".env.") and not name.endswith(ENV_TEMPLATE_SUFFIXES)):
        return "dotenv file"
    if name in SECRET_NAMES:
        return "private key" if name.startswith("id_") else f"{name} credentials"
    if path.endswith((".aws/credentials", ".docker/config.json", ".kube/config")):
        return "cloud credentials"
    if name.endswith(SECRET_SUFFIXES) and "/node_modules/" not in path and "/site-packages/" not in path:
        return "key material"
    return None


def toolchain_root(path: str) -> str | None:
    if TOOLCHAIN_BIN.match(path):
        return path
    for pattern in TOOLCHAIN_DIRS:
        match = pattern.match(path)
        if match:
            return match.group(0)
    return None


def cache_root(path: str) -> str | None:
    if path.rpartition("/")[2] in CACHE_IGNORED:
        return None
    for pattern in CACHE_DIRS:
        match = pattern.match(path)
        if match:
            return match.group(0)
    return None
