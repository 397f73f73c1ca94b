"""The gate's mode per namespace: CORONER_GATE_MODE unless the namespace's label says otherwise."""

from __future__ import annotations

from bot.admission.mode import MODE_LABEL, NamespaceModes
from tests.doubles.cluster_reader import FakeClusterReader


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_label_overrides_the_setting_and_is_read_once_per_ttl():
    cluster = FakeClusterReader(namespaces=["prod", "staging"],
                                namespace_label_sets={"staging": {MODE_LABEL: "warn"}})
    clock = Ticks()
    modes = NamespaceModes("deny", lambda: cluster, ttl=30, now=clock)

    assert (modes.mode("staging").mode, modes.mode("staging").source) == ("warn", f"namespace label {MODE_LABEL}")
    assert (modes.mode("prod").mode, modes.mode("prod").source) == ("deny", "CORONER_GATE_MODE")
    assert cluster.calls["namespace_labels"] == 2
    cluster.namespace_label_sets["staging"][MODE_LABEL] = "off"
    clock.now = 29
    assert modes.mode("staging").mode == "warn"
    clock.now = 31
    assert modes.mode("staging").mode == "off"


def test_a_bad_label_or_an_unreadable_namespace_keeps_the_setting_and_says_why():
    cluster = FakeClusterReader(namespaces=["prod"], namespace_label_sets={"prod": {MODE_LABEL: "maybe"}})
    choice = NamespaceModes("warn", lambda: cluster).mode("prod")
    assert choice.mode == "warn" and "'maybe' is not one of deny, warn, off" in (choice.note or "")

    refused = FakeClusterReader(namespaces=["prod"], forbidden={"namespace_labels"})
    choice = NamespaceModes("deny", lambda: refused).mode("prod")
    assert choice.mode == "deny" and "forbidden" in (choice.note or "")


def test_without_a_cluster_the_setting_applies():
    assert NamespaceModes("off", lambda: None).mode("prod").mode == "off"
