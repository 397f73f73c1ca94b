"""Loading a scenario: a shipped one by name or a YAML file, validated and expanded into a `Scenario`.

`load_scenario("registry-meltdown")` reads a shipped scenario from the `bot.sim.scenarios` package;
`load_scenario("path/to/file.yaml")` reads any file. Errors name the file and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.ports import CoronerError
from bot.sim.expand import expand
from bot.sim.model import Scenario
from bot.sim.schema import ScenarioFile
from bot.yamlfile import load_yaml


class ScenarioError(CoronerError):
    """A scenario file that cannot be found, parsed or validated. The message names file and field."""


SHIPPED_PACKAGE = "bot.sim.scenarios"


def shipped_scenarios() -> list[str]:
    """Names of the scenarios shipped in the package."""
    root = resources.files(SHIPPED_PACKAGE)
    return sorted(p.name.removesuffix(".yaml") for p in root.iterdir() if p.name.endswith(".yaml"))


def _resolve(name_or_path: str | Path) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        if not candidate.is_file():
            raise ScenarioError(f"scenario file {candidate} does not exist")
        return candidate
    shipped = Path(str(resources.files(SHIPPED_PACKAGE))) / f"{name_or_path}.yaml"
    if not shipped.is_file():
        raise ScenarioError(
            f"unknown scenario {str(name_or_path)!r}: not a file, and not one of {', '.join(shipped_scenarios())}"
        )
    return shipped


def _read_yaml(path: Path) -> dict[str, Any]:
    data = load_yaml(path, error=ScenarioError)
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: a scenario is a mapping at the top level, got {type(data).__name__}")
    return data


def _read_with_parents(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The file's mapping, laid over the scenario it `extends` (top-level keys replace the parent's)."""
    if path.resolve() in seen:
        raise ScenarioError(f"{path}: `extends` loops back to itself")
    data = _read_yaml(path)
    parent_name = data.get("extends")
    if parent_name is None:
        return data
    if not isinstance(parent_name, str):
        raise ScenarioError(f"{path}: extends: must be a scenario name or a file path")
    parent_path = Path(parent_name)
    if not parent_path.is_absolute() and (path.parent / parent_name).is_file():
        parent_path = path.parent / parent_name
    else:
        parent_path = _resolve(parent_name)
    merged = _read_with_parents(parent_path, (*seen, path.resolve()))
    merged.update({k: v for k, v in data.items() if k != "extends"})
    return merged


def _format_validation(path: Path, exc: ValidationError) -> str:
    problems = []
    for error in exc.errors()[:8]:
        location = ".".join(str(part) for part in error["loc"]) or "(top level)"
        problems.append(f"{location}: {error['msg']}")
    more = f" (and {exc.error_count() - 8} more)" if exc.error_count() > 8 else ""
    return f"{path}: invalid scenario: " + "; ".join(problems) + more


def parse_scenario(data: Mapping[str, Any], *, source: Path | None = None) -> Scenario:
    """Validate a scenario mapping and expand its shorthand."""
    where = source or Path("<scenario>")
    try:
        spec = ScenarioFile.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_format_validation(where, exc)) from None
    try:
        scenario = expand(spec)
    except ValueError as exc:
        raise ScenarioError(f"{where}: {exc}") from exc
    scenario.source = source
    return scenario


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A shipped scenario by name (`registry-meltdown`), or a YAML file by path."""
    path = _resolve(name_or_path)
    return parse_scenario(_read_with_parents(path), source=path)
