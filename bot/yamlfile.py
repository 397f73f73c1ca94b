"""Reading YAML the operator wrote (playbooks, the catalog, scenarios, kubeconfigs).

PyYAML's error report spans several lines and quotes the source; the person fixing the file needs one
line with the file, the position and the problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.ports import CoronerError


def describe_yaml_error(exc: yaml.YAMLError) -> str:
    """`not valid YAML at line 3, column 7: mapping values are not allowed here`."""
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(exc, "problem", None) or type(exc).__name__
    return f"not valid YAML{where}: {problem}"


def load_yaml(path: Path, *, error: type[CoronerError]) -> Any:
    """The parsed file; `error(f"{path}: ...")` when it cannot be read or is not YAML."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise error(f"{path}: {describe_yaml_error(exc)}") from exc
