"""Logging as an operator sees it: `coroner diagnose` in a subprocess, configured by CORONER_LOG_*.

The rbac-forbidden scenario makes the diagnosis log INFO lines of its own (the timeline goes without
events); DEBUG adds urllib3's request lines, emitted in the check threads.
"""

import json
import os
import subprocess

import pytest

from bot.engine.registry import CHECKS
from tests.cli_process import python

pytestmark = pytest.mark.slow  # whole coroner processes against the sim

# The CLI entry point as the worker runs a job: inside a log context.
AS_A_JOB = (
    "from bot.cli import main\nfrom bot.logs import log_context\n"
    "with log_context(job_id=17, incident_id='Q1ABC'):\n    main()"
)


def coroner(kubeconfig, env: dict[str, str], code: str = "from bot.cli import main; main()") -> str:
    result = subprocess.run(
        [*python(code), "diagnose", "user-profile-service", "--kubeconfig", str(kubeconfig),
         "--no-images"],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_log_level_info_shows_the_bots_info_lines(cluster):
    with cluster("rbac-forbidden") as c:
        quiet = coroner(c.kubeconfig, {"CORONER_LOG_LEVEL": "WARNING"})
        info = coroner(c.kubeconfig, {"CORONER_LOG_LEVEL": "INFO"})
    assert quiet == ""
    assert " INFO bot.engine.diagnose: timeline without service events: " in info


def test_json_lines_parse_and_carry_the_context_fields(cluster):
    with cluster("rbac-forbidden") as c:
        err = coroner(c.kubeconfig, {"CORONER_LOG_LEVEL": "DEBUG", "CORONER_LOG_FORMAT": "json"}, AS_A_JOB)
    lines = [json.loads(line) for line in err.splitlines()]
    assert {"time", "level", "logger", "message"} <= set().union(*lines)
    assert all((line["job_id"], line["incident_id"]) == (17, "Q1ABC") for line in lines), lines
    assert any(line["logger"] == "bot.engine.diagnose" and line["level"] == "INFO" for line in lines)
    # Lines from the check threads carry the context too, and the check's name.
    from_checks = {line["check"] for line in lines if "check" in line}
    assert from_checks and from_checks <= set(CHECKS), lines
