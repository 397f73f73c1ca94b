"""Which image of a multi-arch index the admission gate judges: the one the workload's nodes would pull.

The nodes are listed through the cluster reader and kept for `ttl` seconds (a review must not wait for a
node list each time); each review filters them with its own pod template (a `kubernetes.io/arch`
nodeSelector, tolerations), as the pull pressure does. Without a cluster, or when it cannot be read, the
platform is None: the image reader's own (CORONER_IMAGE_PLATFORM). A node list the API server does not
finish before the review's deadline raises `DeadlineExceeded`: which image to judge is then unknown, and
the webhook fails open rather than judge another platform's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from bot.cluster.snapshots import NodeSnapshot
from bot.gate.pressure import nodes_platform, receiving_nodes
from bot.deadline import NO_DEADLINE, Deadline
from bot.ports import ClusterReader, ClusterReadError

log = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 30.0


class NodePlatforms:
    def __init__(self, cluster: Callable[[], ClusterReader | None], *, default: str,
                 ttl: float = DEFAULT_TTL_SECONDS, now: Callable[[], float] = time.monotonic) -> None:
        self._cluster = cluster
        self._default = default
        self._ttl = ttl
        self._now = now
        self._lock = threading.Lock()
        self._nodes: tuple[float, list[NodeSnapshot]] | None = None

    def platform(self, template: Mapping[str, Any], *, kind: str, deadline: Deadline = NO_DEADLINE) -> str | None:
        """The os/arch most of the nodes that could run this pod template run, when it is not the default
        one; None when it is, or when no node says (the reader then picks CORONER_IMAGE_PLATFORM). The
        nodes are listed before `deadline` (past it: `DeadlineExceeded`)."""
        nodes = self._listed(deadline)
        if not nodes:
            return None
        spec = template.get("spec")
        pod_spec: Mapping[str, Any] = spec if isinstance(spec, Mapping) else {}
        platform = nodes_platform(receiving_nodes(nodes, pod_spec, kind=kind), self._default, [])
        return platform if platform != self._default else None

    def _listed(self, deadline: Deadline) -> list[NodeSnapshot]:
        with self._lock:
            if self._nodes is not None and self._now() - self._nodes[0] < self._ttl:
                return self._nodes[1]
        cluster = self._cluster()
        if cluster is None:
            return []
        try:
            nodes = cluster.within(deadline).list_nodes()
        except ClusterReadError as exc:
            log.warning("admission gate: nodes not listed (%s): images read for CORONER_IMAGE_PLATFORM", exc)
            return []
        with self._lock:
            self._nodes = (self._now(), nodes)
        return nodes
