"""bot/logs.py: the handler `configure_logging` installs, its two formats, and the log context."""

import json
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.logs import carry_log_context, configure_logging, level_for, log_context
from bot.settings import load_settings


@pytest.fixture
def json_logging(monkeypatch) -> Iterator[None]:
    monkeypatch.setenv("CORONER_LOG_FORMAT", "json")
    monkeypatch.setenv("CORONER_LOG_LEVEL", "INFO")
    yield from _configured()


def _configured() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    configure_logging(load_settings())
    yield
    for handler in [h for h in root.handlers if h.get_name() == "coroner"]:
        root.removeHandler(handler)
    root.setLevel(level)


def lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines()]


def test_a_json_line_has_the_four_keys_and_every_extra(json_logging, capsys):
    logging.getLogger("bot.worker").info("job %s done", "j1", extra={"service": "user-profile", "attempt": 2})
    (line,) = lines(capsys)
    assert line.pop("time").endswith("+00:00")
    assert line == {"level": "INFO", "logger": "bot.worker", "message": "job j1 done", "service": "user-profile",
                    "attempt": 2}


def test_an_exception_is_one_json_line_with_its_traceback(json_logging, capsys):
    try:
        raise ValueError("bad payload")
    except ValueError:
        logging.getLogger("bot.app").exception("failed")
    (line,) = lines(capsys)
    assert line["level"] == "ERROR"
    assert "ValueError: bad payload" in line["exception"]


def test_context_fields_reach_records_of_every_module_and_leave_with_the_block(json_logging, capsys):
    with log_context(job_id=17, incident_id="Q1ABC"):
        logging.getLogger("bot.engine.diagnose").info("inside")
        with log_context(check="disk"):
            logging.getLogger("kubernetes.client.rest").warning("nested")
        logging.getLogger("bot.slack.poster").info("explicit", extra={"incident_id": "given"})
    logging.getLogger("bot.worker").info("outside")
    inside, nested, explicit, outside = lines(capsys)
    assert (inside["job_id"], inside["incident_id"]) == (17, "Q1ABC")
    assert "check" not in inside
    assert (nested["job_id"], nested["check"]) == (17, "disk")
    assert explicit["incident_id"] == "given"
    assert "job_id" not in outside and "incident_id" not in outside


def test_carry_log_context_hands_the_fields_to_threads(json_logging, capsys):
    def work(n: int) -> None:
        logging.getLogger("bot.checks.disk").info("node %d", n)

    with log_context(job_id=3):
        for thread in (threading.Thread(target=work, args=(0,)),
                       threading.Thread(target=carry_log_context(work), args=(1,))):
            thread.start()
            thread.join()
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(carry_log_context(work), range(2, 10)))
    by_message = {line["message"]: line for line in lines(capsys)}
    assert "job_id" not in by_message["node 0"]  # why the wrapper exists: a thread starts with no context
    assert {by_message[f"node {n}"].get("job_id") for n in range(1, 10)} == {3}


def test_text_lines_end_with_the_fields(monkeypatch, capsys):
    monkeypatch.setenv("CORONER_LOG_LEVEL", "INFO")
    for _ in _configured():
        with log_context(job_id=5):
            logging.getLogger("bot.worker").info("done", extra={"service": "api"})
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith(" INFO bot.worker: done [service=api job_id=5]")


def test_configuring_again_replaces_the_handler(json_logging, capsys):
    configure_logging(load_settings())
    logging.getLogger("bot").warning("once")
    assert len(lines(capsys)) == 1


def test_the_setting_is_the_level_and_v_only_raises_it():
    assert level_for("WARNING", 0) == logging.WARNING
    assert level_for("INFO", 0) == logging.INFO
    assert level_for("WARNING", 1) == logging.INFO
    assert level_for("DEBUG", 1) == logging.DEBUG
    assert level_for("ERROR", 2) == logging.DEBUG


def test_an_unknown_format_names_the_variable(monkeypatch):
    from bot.settings import SettingsError

    monkeypatch.setenv("CORONER_LOG_FORMAT", "xml")
    with pytest.raises(SettingsError, match="CORONER_LOG_FORMAT"):
        load_settings()
