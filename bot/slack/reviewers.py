"""Who may approve postmortems and roll back: CORONER_REVIEWERS, Slack user ids (U…/W…) and user-group
ids (S…). A group's members come from `usergroups.users.list`, cached for five minutes. When Slack cannot
say who is in a group, the answer is no: authorisation fails closed."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

log = logging.getLogger(__name__)

GROUP_CACHE_SECONDS = 300.0


class Reviewers:
    def __init__(self, ids: Sequence[str], *, client: WebClient | None, ttl: float = GROUP_CACHE_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._users = frozenset(i for i in ids if not i.startswith("S"))
        self._groups = tuple(i for i in ids if i.startswith("S"))
        self._client = client
        self._ttl = ttl
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return bool(self._users or self._groups)

    def allows(self, user_id: str) -> bool:
        if user_id in self._users:
            return True
        return any(user_id in self._members(group) for group in self._groups)

    def _members(self, group: str) -> frozenset[str]:
        now = self._monotonic()
        with self._lock:
            cached = self._cache.get(group)
            if cached is not None and now - cached[0] < self._ttl:
                return cached[1]
        if self._client is None:
            return frozenset()
        try:
            members = frozenset(self._client.usergroups_users_list(usergroup=group).get("users") or [])
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.warning("cannot read the members of reviewer group %s: %s", group, exc)
            return frozenset()
        with self._lock:
            self._cache[group] = (now, members)
        return members
