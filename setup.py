"""Which packages the wheel holds: every package under bot/, found at build time, plus the two top-level
directories that ship inside it as `bot.playbooks` and `bot.migrations` (with `bot.migrations.versions`).

Everything else about the build is in pyproject.toml. The package list cannot be: its
`[tool.setuptools.packages.find]` ignores package-dir mappings (pypa/setuptools#5145), and the
hand-written list it replaces had silently lost `bot.jobs` and `bot.lifecycle`.
tests/unit/test_packaging.py builds the wheel and checks that every package and data file is in it.
"""

from setuptools import find_packages, setup

# playbooks/ and migrations/ sit at the top level, where operators look for them, but ship inside the
# wheel so that `pip install . && coroner demo` finds them.
MAPPED = {"bot.playbooks": "playbooks", "bot.migrations": "migrations"}


def packages() -> list[str]:
    found = find_packages(include=["bot", "bot.*"])
    for name, directory in MAPPED.items():
        found += [name, *(f"{name}.{sub}" for sub in find_packages(where=directory))]
    return found


setup(packages=packages(), package_dir=MAPPED)
