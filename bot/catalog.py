"""The service catalog: which cluster, namespace and workload a service name means, and where its
Dockerfile, PagerDuty service and Slack channel are.

```yaml
services:
  user-profile-service:
    context: prod-eu            # kubeconfig context; absent = the reader's default
    namespace: prod
    workload: deployment/user-profile-service   # or statefulset/NAME, daemonset/NAME; a bare name is a Deployment
    container: app              # which container's image to examine; absent = the first one
    pagerduty_service_id: PF9KMXH
    slack_channel: "#user-profile"
    dockerfile: ../services/user-profile/Dockerfile   # relative to this file
```
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.ports import CoronerError
from bot.yamlfile import load_yaml


class CatalogError(CoronerError):
    """The catalog file cannot be read or does not validate; the message names the file and the field."""


# `kubectl`'s spellings of the kinds a service may be.
_KINDS = {
    "deployment": "Deployment", "deployments": "Deployment", "deploy": "Deployment",
    "statefulset": "StatefulSet", "statefulsets": "StatefulSet", "sts": "StatefulSet",
    "daemonset": "DaemonSet", "daemonsets": "DaemonSet", "ds": "DaemonSet",
}


def kind_named(word: str) -> str | None:
    """The kind `word` spells as kubectl does (`statefulset`, `sts`, `DaemonSets`, ...); None for another word."""
    return _KINDS.get(word.lower())


class CatalogEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    context: str | None = None
    namespace: str
    workload: str | None = None
    container: str | None = None
    pagerduty_service_id: str | None = None
    slack_channel: str | None = None
    dockerfile: Path | None = None

    @field_validator("workload")
    @classmethod
    def _kind_is_supported(cls, value: str | None) -> str | None:
        if value and "/" in value and kind_named(value.split("/", 1)[0]) is None:
            raise ValueError("the workload is deployment/<name>, statefulset/<name> or daemonset/<name>")
        return value

    @property
    def workload_kind(self) -> str:
        if self.workload and "/" in self.workload:
            return _KINDS[self.workload.split("/", 1)[0].lower()]
        return "Deployment"

    @property
    def workload_name(self) -> str:
        if self.workload:
            return self.workload.split("/", 1)[-1]
        return self.name


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    services: dict[str, CatalogEntry] = Field(default_factory=dict)

    def get(self, service: str) -> CatalogEntry | None:
        return self.services.get(service)

    def by_pagerduty_service(self, service_id: str) -> CatalogEntry | None:
        return next((e for e in self.services.values() if e.pagerduty_service_id == service_id), None)

    def names(self) -> list[str]:
        return sorted(self.services)


def load_catalog(path: Path) -> Catalog:
    """Read and validate a catalog file. Dockerfile paths become absolute (relative to the file)."""
    raw = load_yaml(path, error=CatalogError) or {}
    if not isinstance(raw, dict):
        raise CatalogError(f"{path}: expected a mapping with a 'services' key")
    services = raw.get("services")
    if isinstance(services, dict):
        for name, entry in services.items():
            if isinstance(entry, dict):
                entry.setdefault("name", name)
                if entry.get("dockerfile"):
                    entry["dockerfile"] = str((path.parent / str(entry["dockerfile"])).resolve())
    try:
        return Catalog.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise CatalogError(f"{path}: {problems}") from None
