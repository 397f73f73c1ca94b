import sqlalchemy as sa
from click.testing import CliRunner

from bot.cli import main
from bot.store import migrate
from bot.store.migrate import MigrationError
from bot.store.models import Base

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
}


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_every_model_table_is_one_we_expect():
    assert set(Base.metadata.tables) == TABLES


def test_upgrade_from_empty_then_no_drift(database_url):
    assert migrate.current(database_url) == ""
    migrate.upgrade(database_url)
    assert tables(database_url) == TABLES
    assert migrate.current(database_url) == f"{migrate.head()} (head)"
    migrate.check(database_url)


def test_downgrade_to_base_and_back_up(database_url):
    migrate.upgrade(database_url)
    migrate.downgrade(database_url, "base")
    assert tables(database_url) == set()
    assert migrate.current(database_url) == ""
    migrate.upgrade(database_url)
    assert tables(database_url) == TABLES
    migrate.check(database_url)


def test_check_fails_on_a_database_behind_the_models(database_url):
    try:
        migrate.check(database_url)
    except MigrationError as exc:
        assert "not up to date" in str(exc)
    else:
        raise AssertionError("check passed on an empty database")


def test_unique_constraints_carry_conventional_names(database_url):
    migrate.upgrade(database_url)
    engine = sa.create_engine(database_url)
    try:
        names = {c["name"] for c in sa.inspect(engine).get_unique_constraints("inbound_events")}
    finally:
        engine.dispose()
    assert names == {"uq_inbound_events_source_delivery_id", "uq_inbound_events_source_event_id"}


def test_cli_upgrade_current_check_downgrade(database_url):
    runner = CliRunner()
    result = runner.invoke(main, ["db", "upgrade", "--url", database_url])
    assert result.exit_code == 0, result.output
    assert "(head)" in result.output
    result = runner.invoke(main, ["db", "check", "--url", database_url])
    assert result.exit_code == 0, result.output
    assert "no drift" in result.output
    result = runner.invoke(main, ["db", "downgrade", "base", "--url", database_url])
    assert result.exit_code == 0, result.output
    assert runner.invoke(main, ["db", "current", "--url", database_url]).output.strip() == "base"


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
