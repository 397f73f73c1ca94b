"""The mode's and the platform's cluster reads take the review's deadline, and a read that ran out of time
is not kept: the next review asks the API server again instead of deciding from a guess."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest

from bot.admission.mode import MODE_LABEL, NamespaceModes
from bot.admission.platforms import NodePlatforms
from bot.cluster.snapshots import NodeSnapshot
from bot.deadline import Deadline, DeadlineExceeded
from tests.doubles.cluster_reader import FakeClusterReader, node


@dataclass
class StallingReader(FakeClusterReader):
    """Its reads run out of time while `stalled`, as the real reader's do past the deadline it was given."""

    stalled: bool = True
    given: list[Deadline] = field(default_factory=list)

    def within(self, deadline: Deadline) -> StallingReader:
        self.given.append(deadline)
        return self

    def _out_of_time(self, what: str) -> None:
        if self.stalled:
            raise DeadlineExceeded(f"waiting for the API server: {what}", waited_for=f"the Kubernetes API ({what})")

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        self._out_of_time(f"labels of namespace {namespace}")
        return super().namespace_labels(namespace)

    def list_nodes(self) -> list[NodeSnapshot]:
        self._out_of_time("list nodes")
        return super().list_nodes()


def test_the_mode_is_read_within_the_deadline_and_a_timeout_is_not_cached():
    reader = StallingReader(namespaces=["prod"], namespace_label_sets={"prod": {MODE_LABEL: "warn"}})
    modes = NamespaceModes("deny", lambda: reader)
    deadline = Deadline.after(2)

    with pytest.raises(DeadlineExceeded) as raised:
        modes.mode("prod", deadline=deadline)

    assert raised.value.waited_for == "the Kubernetes API (labels of namespace prod)"
    assert reader.given == [deadline]
    reader.stalled = False
    assert modes.mode("prod", deadline=deadline).mode == "warn"  # asked again, not the default kept


def test_the_platform_is_read_within_the_deadline_and_a_timeout_is_not_cached():
    arm = [replace(node(f"arm-{i}"), platform="linux/arm64") for i in range(2)]
    reader = StallingReader(nodes=arm)
    platforms = NodePlatforms(lambda: reader, default="linux/amd64")
    deadline = Deadline.after(2)

    with pytest.raises(DeadlineExceeded):
        platforms.platform({"spec": {}}, kind="Deployment", deadline=deadline)

    assert reader.given == [deadline]
    reader.stalled = False
    assert platforms.platform({"spec": {}}, kind="Deployment", deadline=deadline) == "linux/arm64"
