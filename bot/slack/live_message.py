"""`LiveMessage`: one Slack message that Coroner edits in place while work progresses, then replaces.

`chat.update` is Tier 3 (about 50 a minute per workspace, REFERENCE.md §2.4), so progress is throttled:
at most one edit per `interval`, and the newest progress wins. The edit is sent from a timer thread,
never from the caller's, so the work that reports progress (a playbook run) never waits on Slack.
Progress is decoration: an edit that fails is logged and progress stops, but `finish` still tries,
and it is the one call that raises.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from bot.slack.blocks import SlackMessage
from bot.slack.poster import ChatPostError, SlackChatPoster

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_SECONDS = 1.0


class LiveMessage:
    def __init__(
        self,
        poster: SlackChatPoster,
        *,
        channel: str,
        ts: str,
        interval: float = PROGRESS_INTERVAL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.channel, self.ts = channel, ts
        self._poster = poster
        self._interval = interval
        self._monotonic = monotonic
        # One lock orders every edit: `finish` waits for an edit in flight, so the final message lands last.
        self._lock = threading.Lock()
        self._last_edit = monotonic()  # posting counts as an edit
        self._pending: SlackMessage | None = None
        self._timer: threading.Timer | None = None
        self._progress_stopped = False
        self._finished = False

    @classmethod
    def post(
        cls, poster: SlackChatPoster, *, channel: str, message: SlackMessage,
        interval: float = PROGRESS_INTERVAL_SECONDS,
    ) -> LiveMessage:
        """Post the first version; raises `ChatPostError` (e.g. `not_in_channel`) for the caller to fall back."""
        ts = poster.post(channel=channel, text=message.text, blocks=message.blocks)
        return cls(poster, channel=channel, ts=ts, interval=interval)

    def show(self, message: SlackMessage) -> None:
        """Show `message` as the latest progress: at once if the last edit is `interval` old, else then."""
        with self._lock:
            if self._finished or self._progress_stopped:
                return
            self._pending = message
            if self._timer is not None:
                return  # the scheduled edit will send this newer message
            delay = max(0.0, self._last_edit + self._interval - self._monotonic())
            self._timer = threading.Timer(delay, self._send_pending)
            self._timer.daemon = True
            self._timer.name = f"slack-progress-{self.ts}"
            self._timer.start()

    def _send_pending(self) -> None:
        with self._lock:
            self._timer = None
            message, self._pending = self._pending, None
            if message is None or self._finished or self._progress_stopped:
                return
            try:
                self._poster.update(channel=self.channel, ts=self.ts, text=message.text, blocks=message.blocks)
            except ChatPostError as exc:
                log.warning("progress stops: %s", exc, extra={"channel": self.channel, "ts": self.ts})
                self._progress_stopped = True
            self._last_edit = self._monotonic()

    def finish(self, message: SlackMessage) -> None:
        """Replace the message with `message` now, after any edit in flight; raises `ChatPostError`."""
        with self._lock:
            self._finished = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._poster.update(channel=self.channel, ts=self.ts, text=message.text, blocks=message.blocks)
