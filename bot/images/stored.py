"""An `ImageReport` back from its JSON (`ImageReport.to_json()`), as the autopsy cache stores it.

`report_from_json(report.to_json()).to_json() == report.to_json()`: everything the JSON carries comes
back typed. What the JSON does not carry is not invented: the image's history and full config stay
empty, `from_dockerfile` is true only for a layer mapped to a line of a given Dockerfile, and each
manifest layer is rebuilt from its layer report (the digest, the stored size, compressed or not).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.domain import Finding, Severity
from bot.images.autopsy import Comparison, ImageReport, LayerDelta, LayerReport, Totals
from bot.images.model import ImageConfig, ImageManifest, LayerRef
from bot.images.rules import CHECK
from bot.images.walk import PathSize


class StoredReportError(ValueError):
    """Stored JSON that is not an `ImageReport.to_json()`: the cache entry is ignored and read again."""


def report_from_json(data: Mapping[str, Any]) -> ImageReport:
    try:
        return _report(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise StoredReportError(f"not a stored image report: {exc!r}") from exc


def _report(data: Mapping[str, Any]) -> ImageReport:
    image = data["image"]
    dockerfile = data.get("dockerfile") or {}
    given = dockerfile.get("source") == "given"
    layers = tuple(_layer(layer, given=given) for layer in data["layers"])
    manifest = ImageManifest(
        ref=str(image["ref"]),
        digest=image.get("digest"),
        config=ImageConfig(user=image.get("user")),
        history=(),
        layers=tuple(LayerRef(index=layer.index, digest=layer.digest, size_bytes=layer.stored_bytes,
                              compressed=layer.compressed) for layer in layers),
        architecture=image.get("architecture"),
        os=image.get("os"),
        created=datetime.fromisoformat(image["created"]) if image.get("created") else None,
    )
    comparison = data.get("comparison")
    return ImageReport(
        ref=str(image["ref"]),
        manifest=manifest,
        layers=layers,
        findings=tuple(_finding(f) for f in data["findings"]),
        totals=Totals(**{name: data["totals"][name] for name in (
            "size_bytes", "reclaimable_bytes", "dive_efficiency", "dive_wasted_bytes", "final_bytes", "complete")}),
        comparison=_comparison(comparison) if comparison else None,
        dockerfile=dockerfile.get("path") if given else None,
        reconstructed_dockerfile=dockerfile.get("reconstructed"),
        notes=tuple(str(n) for n in data.get("notes") or ()),
    )


def _layer(data: Mapping[str, Any], *, given: bool) -> LayerReport:
    return LayerReport(
        index=int(data["index"]), size_bytes=int(data["size_bytes"]), stored_bytes=int(data["stored_bytes"]),
        compressed=bool(data["compressed"]), digest=str(data["digest"]), created_by=str(data["created_by"]),
        instruction=str(data["instruction"]), line=data.get("line"), from_dockerfile=given and data.get("line") is not None,
        top_paths=tuple(PathSize(str(p["path"]), int(p["bytes"]), int(p["files"])) for p in data["top_paths"]),
        hidden_bytes=int(data["hidden_bytes"]), contents_read=bool(data["contents_read"]),
    )


def _finding(data: Mapping[str, Any]) -> Finding:
    # Every finding of an image report comes from the image rules, whose check is `image`.
    return Finding(rule=str(data["rule"]), severity=Severity(data["severity"]), title=str(data["message"]),
                   evidence=dict(data["evidence"]), remediation=data.get("remediation"), check=CHECK)


def _comparison(data: Mapping[str, Any]) -> Comparison:
    return Comparison(
        against=str(data["against"]), size_bytes=int(data["size_bytes"]),
        against_size_bytes=int(data["against_size_bytes"]), compressed=bool(data.get("compressed", False)),
        layers=tuple(LayerDelta(index=d["index"], against_index=d["against_index"], instruction=str(d["instruction"]),
                                size_bytes=int(d["size_bytes"]), against_size_bytes=int(d["against_size_bytes"]),
                                status=str(d["status"])) for d in data["layers"]),
    )
