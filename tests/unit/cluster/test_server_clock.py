"""ServerClock: now on the API server's clock, from the Date headers of its answers."""

from datetime import UTC, datetime, timedelta

from bot.cluster.server_clock import ServerClock


class Local:
    def __init__(self) -> None:
        self.at = datetime(2026, 11, 29, 21, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


def test_local_time_until_the_server_has_answered():
    local = Local()
    clock = ServerClock(local)
    assert clock.now() == local.at
    clock.observe(None)
    clock.observe("not a date")
    assert clock.now() == local.at


def test_follows_the_servers_date_and_moves_on_with_local_time():
    local = Local()
    clock = ServerClock(local)
    clock.observe("Tue, 09 Jul 2024 09:48:00 GMT")
    assert clock.now() == datetime(2024, 7, 9, 9, 48, tzinfo=UTC)
    local.at += timedelta(seconds=90)
    assert clock.now() == datetime(2024, 7, 9, 9, 49, 30, tzinfo=UTC)
    clock.observe("Tue, 09 Jul 2024 09:50:00 GMT")  # the latest answer wins
    assert clock.now() == datetime(2024, 7, 9, 9, 50, tzinfo=UTC)
    assert clock.now().tzinfo is not None
