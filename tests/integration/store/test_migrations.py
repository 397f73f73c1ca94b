import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from click.testing import CliRunner

from bot.cli import main
from bot.store import migrate
from bot.store.migrate import MigrationError
from bot.store.models import Base
from tests.cli_process import python

TABLES = {
    "incidents",
    "inbound_events",
    "timeline_entries",
    "diagnosis_runs",
    "findings",
    "postmortems",
    "postmortem_versions",
    "audit_log",
    "jobs",
    "slack_posts",
    "diagnosis_requests",
    "image_autopsies",
}


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_every_model_table_is_one_we_expect():
    assert set(Base.metadata.tables) == TABLES


def test_upgrade_from_empty_then_no_drift(fresh_database_url):
    assert migrate.current(fresh_database_url) == ""
    migrate.upgrade(fresh_database_url)
    assert tables(fresh_database_url) == TABLES
    assert migrate.current(fresh_database_url) == f"{migrate.head()} (head)"
    migrate.check(fresh_database_url)


def test_downgrade_to_base_and_back_up(fresh_database_url):
    migrate.upgrade(fresh_database_url)
    migrate.downgrade(fresh_database_url, "base")
    assert tables(fresh_database_url) == set()
    assert migrate.current(fresh_database_url) == ""
    migrate.upgrade(fresh_database_url)
    assert tables(fresh_database_url) == TABLES
    migrate.check(fresh_database_url)


def test_check_fails_on_a_database_behind_the_models(fresh_database_url):
    with pytest.raises(MigrationError, match="not up to date"):
        migrate.check(fresh_database_url)


def test_unique_constraints_carry_conventional_names(fresh_database_url):
    migrate.upgrade(fresh_database_url)
    engine = sa.create_engine(fresh_database_url)
    try:
        names = {c["name"] for c in sa.inspect(engine).get_unique_constraints("inbound_events")}
    finally:
        engine.dispose()
    assert names == {"uq_inbound_events_source_delivery_id", "uq_inbound_events_source_event_id"}


def test_cli_upgrade_current_check_downgrade(fresh_database_url):
    runner = CliRunner()
    result = runner.invoke(main, ["db", "upgrade", "--url", fresh_database_url])
    assert result.exit_code == 0, result.output
    assert "(head)" in result.output
    result = runner.invoke(main, ["db", "check", "--url", fresh_database_url])
    assert result.exit_code == 0, result.output
    assert "no drift" in result.output
    result = runner.invoke(main, ["db", "downgrade", "base", "--yes", "--url", fresh_database_url])
    assert result.exit_code == 0, result.output
    assert runner.invoke(main, ["db", "current", "--url", fresh_database_url]).output.strip() == "base"


def test_cli_downgrade_minus_one_goes_back_one_revision(fresh_database_url):
    """`-1` is the documented form; click must not read it as an option."""
    migrate.upgrade(fresh_database_url)
    previous = ScriptDirectory.from_config(migrate.alembic_config()).get_revision(migrate.head()).down_revision
    result = CliRunner().invoke(main, ["db", "downgrade", "-1", "--yes", "--url", fresh_database_url])
    assert result.exit_code == 0, result.output
    assert migrate.current(fresh_database_url).split(" ")[0] == (previous or "")


@pytest.mark.parametrize("revision", ["base", "-1"])
def test_cli_downgrade_without_yes_refuses_and_drops_nothing(fresh_database_url, revision):
    migrate.upgrade(fresh_database_url)
    result = CliRunner().invoke(main, ["db", "downgrade", revision, "--url", fresh_database_url])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert "--yes" in result.output
    assert tables(fresh_database_url) == TABLES
    assert migrate.current(fresh_database_url) == f"{migrate.head()} (head)"


def test_cli_reads_the_url_from_settings_in_any_directory(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'from-env.db'}"
    monkeypatch.setenv("CORONER_DATABASE_URL", url)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert tables(url) == TABLES
    assert list(elsewhere.iterdir()) == []


def test_cli_database_unreachable_is_one_line_and_exit_3(tmp_path):
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}"
    result = CliRunner().invoke(main, ["db", "upgrade", "--url", url])
    assert result.exit_code == 3
    assert result.output.count("\n") == 1
    assert "unavailable" in result.output


def test_cli_unknown_revision_is_a_clear_error(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    result = CliRunner().invoke(main, ["db", "upgrade", "nope", "--url", url])
    assert result.exit_code == 1
    assert "nope" in result.output


@pytest.mark.slow  # three processes migrate at once
def test_replicas_upgrading_at_once_do_not_collide(fresh_database_url):
    """Separate processes, like replicas starting together (Alembic's context is per process)."""
    import subprocess

    script = "import sys; from bot.store import migrate; migrate.upgrade(sys.argv[1])"
    procs = [
        subprocess.Popen([*python(script), fresh_database_url], stderr=subprocess.PIPE) for _ in range(3)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    assert tables(fresh_database_url) == TABLES
    migrate.check(fresh_database_url)
