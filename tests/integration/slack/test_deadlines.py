"""A page at 3 AM while the registry accepts connections and never answers: `coroner serve`'s worker ends
the image check at its deadline, the incident's thread still gets the other checks' findings and a
`check-timeout` naming the registry, and the diagnosis job finishes (its lease is not held for ever)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.images.mirrors import parse_mirrors
from bot.images.registry_reader import RegistryImageReader
from bot.store.records import JobStatus
from tests.doubles.images import RegistryDouble
from tests.integration.paged import paged, text_of, wait_until

pytestmark = pytest.mark.slow  # the whole serve pipeline, with Slack, PagerDuty and the sim

SCENARIO = "config-change-crashloop"
CURRENT_TAG = "2024.10.30-1"  # revision 15's image: the one the image check reads
SHORT = 1.0  # the image check's deadline


def playbooks(tmp_path: Path) -> Path:
    """The shipped pagerduty-triggered playbook's checks, the image check's deadline SHORT."""
    directory = tmp_path / "playbooks"
    directory.mkdir()
    checks = ["nodes", "disk", "workload", "rollout", "neighbours", "hpa", "image", "dockerfile"]
    book = {"name": "pagerduty-triggered", "triggers": ["pagerduty:incident.triggered"], "timeout_seconds": 40,
            "check_timeout_seconds": 20,
            "checks": [{"check": c, **({"timeout_seconds": SHORT} if c == "image" else {})} for c in checks]}
    (directory / "pagerduty-triggered.yaml").write_text(yaml.safe_dump(book))
    (directory / "diagnose.yaml").write_text(yaml.safe_dump({**book, "name": "diagnose", "triggers": ["diagnose"]}))
    return directory


def test_a_stalled_registry_costs_the_thread_only_the_image_findings(tmp_path: Path, slack_api: Any,
                                                                      pagerduty_api: Any) -> None:
    registry = RegistryDouble()
    registry.stall_references = {CURRENT_TAG}
    images = RegistryImageReader(mirrors=parse_mirrors(f"registry.internal:5000=http://127.0.0.1:{registry.port}"))
    try:
        with paged(SCENARIO, database=f"sqlite:///{tmp_path / 'coroner.db'}", tmp_path=tmp_path, slack_api=slack_api,
                   pagerduty_api=pagerduty_api, images=images, playbooks_dir=playbooks(tmp_path)) as incident:
            assert incident.send("incident.triggered", minutes=0).status_code == 202
            timed_out = f"image: no answer within {SHORT:g}s"

            def thread_text() -> str:
                return "\n".join(text_of(m) for m in incident.thread())

            wait_until(lambda: incident.slack.messages and "Probable cause" in text_of(incident.root()),
                       what="the probable cause on the root", timeout=60)
            wait_until(lambda: timed_out in thread_text(), what="the image check's timeout in the thread", timeout=60)

            def diagnosis_job_status() -> JobStatus | None:
                with incident.services.store.unit_of_work() as uow:
                    jobs = uow.jobs.list(kind="diagnose_incident")
                return jobs[0].status if len(jobs) == 1 and jobs[0].status != JobStatus.RUNNING else None

            assert wait_until(diagnosis_job_status, what="the diagnosis job to end") == JobStatus.DONE
            text = thread_text()
            root = text_of(incident.root())
    finally:
        registry.close()
        images.close()
    assert f"while waiting for registry 127.0.0.1:{registry.port}" in text
    assert any(path.endswith(f"/manifests/{CURRENT_TAG}") for path, _ in registry.seen)
    # The other checks' answer: revision 15 crash-loops, revision 14 is the way back.
    assert "Probable cause" in root and "revision 15" in root
    assert "crash" in text.lower() and "revision 14" in text + root
    assert "check-failed" not in text and text.count("no answer within") == 1
