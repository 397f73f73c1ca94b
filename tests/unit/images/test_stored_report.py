"""The autopsy cache stores `ImageReport.to_json()`; `report_from_json` must give the same report back."""

from __future__ import annotations

import pytest
from tests.doubles.images import FakeImageReader, entries
from tests.unit.images.test_autopsy import DOCKERFILE, incident_reader

from bot.domain import Severity
from bot.images.autopsy import autopsy
from bot.images.stored import StoredReportError, report_from_json


@pytest.mark.parametrize("options", [
    {},
    {"against": "app:v1"},
    {"dockerfile_text": DOCKERFILE, "dockerfile_path": "services/app/Dockerfile", "against": "app:v1"},
], ids=["alone", "compared", "with-dockerfile"])
def test_a_stored_report_round_trips(options):
    report = autopsy(incident_reader(), "app:v2", **options)
    data = report.to_json()

    back = report_from_json(data)

    assert back.to_json() == data
    assert back.findings == report.findings  # typed: severity, title, evidence, remediation, check
    assert back.totals == report.totals
    assert back.comparison == report.comparison
    assert [layer.top_paths for layer in back.layers] == [layer.top_paths for layer in report.layers]
    assert back.manifest.size_bytes == report.manifest.size_bytes


def test_the_findings_come_back_typed():
    back = report_from_json(autopsy(incident_reader(), "app:v2").to_json())

    severities = {f.rule: f.severity for f in back.findings}
    assert severities and all(isinstance(s, Severity) for s in severities.values())


@pytest.mark.parametrize("damage", [
    lambda d: d.pop("layers"),
    lambda d: d["findings"].append({"rule": "x", "severity": "apocalyptic", "message": "", "evidence": {}}),
    lambda d: d["totals"].pop("size_bytes"),
    lambda d: d["image"].update(created="yesterday"),
], ids=["no-layers", "unknown-severity", "no-total", "bad-date"])
def test_a_damaged_entry_is_one_error(damage):
    reader = FakeImageReader()
    reader.add("small:1", [entries([("app/main.py", 100)])])
    data = autopsy(reader, "small:1").to_json()
    damage(data)

    with pytest.raises(StoredReportError, match="not a stored image report"):
        report_from_json(data)
