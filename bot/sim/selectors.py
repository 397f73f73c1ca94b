"""Label and field selectors, with the grammar and error wording of the API server.

Label: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, comma-separated (AND).
Field: `path=v`, `path==v`, `path!=v`, comma-separated, on the fields each resource supports.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


class SelectorError(ValueError):
    """A selector the API server would refuse with 400 BadRequest."""


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "=":
            return present and value == self.values[0]
        if self.op == "!=":
            return not present or value != self.values[0]
        if self.op == "in":
            return present and value in self.values
        if self.op == "notin":
            return not present or value not in self.values
        if self.op == "exists":
            return present
        return not present  # "!exists"


_SET_TERM = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ_TERM = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_.-]*)\s*$")
_EXISTS_TERM = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*$")


def _split_terms(selector: str) -> list[str]:
    """Split on commas outside parentheses (`a in (x,y),b=c`)."""
    terms: list[str] = []
    current: list[str] = []
    depth = 0
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(char)
    terms.append("".join(current))
    return [t for t in terms if t.strip()]


def parse_label_selector(selector: str | None) -> tuple[Requirement, ...]:
    if not selector or not selector.strip():
        return ()
    requirements = []
    for term in _split_terms(selector):
        if match := _SET_TERM.match(term):
            values = tuple(v.strip() for v in match.group(3).split(",") if v.strip())
            requirements.append(Requirement(match.group(1), match.group(2), values))
        elif match := _EQ_TERM.match(term):
            op = "!=" if match.group(2) == "!=" else "="
            requirements.append(Requirement(match.group(1), op, (match.group(3),)))
        elif match := _EXISTS_TERM.match(term):
            requirements.append(Requirement(match.group(2), "!exists" if match.group(1) else "exists"))
        else:
            raise SelectorError(f"unable to parse requirement: {term.strip()!r}")
    return tuple(requirements)


def labels_match(requirements: tuple[Requirement, ...], labels: Mapping[str, str]) -> bool:
    return all(r.matches(labels) for r in requirements)


@dataclass(frozen=True)
class FieldRequirement:
    path: str
    value: str
    negate: bool


def parse_field_selector(selector: str | None, supported: frozenset[str]) -> tuple[FieldRequirement, ...]:
    if not selector or not selector.strip():
        return ()
    requirements = []
    for term in _split_terms(selector):
        match = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$", term)
        if not match:
            raise SelectorError(f"invalid selector: {term.strip()!r}; can't understand '{term.strip()}'")
        path = match.group(1)
        if path not in supported:
            raise SelectorError(f'field label not supported: {path}')
        requirements.append(FieldRequirement(path, match.group(3), match.group(2) == "!="))
    return tuple(requirements)


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The string value of a dotted path, "" when absent (how the API server compares)."""
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return ""
        current = current.get(part)
    return "" if current is None else str(current)


def fields_match(requirements: tuple[FieldRequirement, ...], obj: Mapping[str, Any]) -> bool:
    for req in requirements:
        equal = field_value(obj, req.path) == req.value
        if equal == req.negate:
            return False
    return True


# Fields each resource supports in a fieldSelector (metadata.name/namespace work everywhere).
_COMMON = {"metadata.name", "metadata.namespace"}
SUPPORTED_FIELDS: Mapping[str, frozenset[str]] = {
    "pods": frozenset(_COMMON | {"spec.nodeName", "status.phase", "spec.restartPolicy", "spec.schedulerName",
                                 "spec.serviceAccountName", "status.podIP", "status.nominatedNodeName"}),
    "events": frozenset(_COMMON | {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                                   "involvedObject.uid", "involvedObject.apiVersion",
                                   "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
                                   "reportingComponent", "source", "type"}),
    "nodes": frozenset(_COMMON | {"spec.unschedulable"}),
    # The same events through events.k8s.io/v1, under that API's field names.
    "events.events.k8s.io": frozenset(_COMMON | {"regarding.kind", "regarding.namespace", "regarding.name",
                                                 "regarding.uid", "regarding.apiVersion",
                                                 "regarding.resourceVersion", "regarding.fieldPath", "reason",
                                                 "reportingController", "type"}),
}


def supported_fields(resource: str) -> frozenset[str]:
    """By the resource's qualified name (`pods`, `events.events.k8s.io`)."""
    return SUPPORTED_FIELDS.get(resource, frozenset(_COMMON))


Matcher = Callable[[Mapping[str, Any]], bool]
