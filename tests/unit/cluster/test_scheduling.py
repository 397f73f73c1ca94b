"""Which nodes a pod spec can be scheduled on: the scheduler's NodeUnschedulable, TaintToleration and
NodeAffinity filters (nodeSelector and required node affinity), as the API documents them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.cluster.scheduling import can_schedule
from tests.doubles.cluster_reader import node

ZONES = {"a": "eu-west-1a", "b": "eu-west-1b", "c": "eu-west-1c"}
NODES = [
    replace(node("a-big"), labels={"topology.kubernetes.io/zone": ZONES["a"], "pool": "big", "cores": "64"}),
    replace(node("b-small"), labels={"topology.kubernetes.io/zone": ZONES["b"], "pool": "small", "cores": "8"}),
    replace(node("c-spot"), labels={"topology.kubernetes.io/zone": ZONES["c"], "spot": "", "cores": "eight"}),
]


def required(*terms: dict) -> dict:
    return {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": list(terms)}}}}


def expr(key: str, operator: str, *values: str) -> dict:
    return {"key": key, "operator": operator, **({"values": list(values)} if values else {})}


def schedulable(spec: dict) -> list[str]:
    return [n.name for n in NODES if can_schedule(n, spec)]


@pytest.mark.parametrize(("spec", "expected"), [
    ({}, ["a-big", "b-small", "c-spot"]),
    (required({"matchExpressions": [expr("pool", "In", "big", "huge")]}), ["a-big"]),
    # NotIn and DoesNotExist match a node without the label at all
    (required({"matchExpressions": [expr("pool", "NotIn", "big")]}), ["b-small", "c-spot"]),
    (required({"matchExpressions": [expr("spot", "Exists")]}), ["c-spot"]),
    (required({"matchExpressions": [expr("spot", "DoesNotExist")]}), ["a-big", "b-small"]),
    # Gt and Lt compare integers; a label that is no integer matches neither
    (required({"matchExpressions": [expr("cores", "Gt", "16")]}), ["a-big"]),
    (required({"matchExpressions": [expr("cores", "Lt", "16")]}), ["b-small"]),
    (required({"matchExpressions": [expr("cores", "Gt", "many")]}), []),
    # the expressions of a term are ANDed
    (required({"matchExpressions": [expr("topology.kubernetes.io/zone", "In", ZONES["a"], ZONES["b"]),
                                    expr("pool", "NotIn", "big")]}), ["b-small"]),
    # the terms are ORed
    (required({"matchExpressions": [expr("pool", "In", "big")]},
              {"matchExpressions": [expr("spot", "Exists")]}), ["a-big", "c-spot"]),
    # matchFields names the node itself (what the DaemonSet controller pins its pods with)
    (required({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["b-small"]}]}), ["b-small"]),
    (required({"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["b-small"]}]}),
     ["a-big", "c-spot"]),
    # an empty term matches no node
    (required({}), []),
    # nodeSelector and the affinity both apply
    ({"nodeSelector": {"pool": "small"}, **required({"matchExpressions": [expr("pool", "In", "big")]})}, []),
    # preferred terms do not filter
    ({"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 1, "preference": {"matchExpressions": [expr("pool", "In", "big")]}}]}}},
     ["a-big", "b-small", "c-spot"]),
])
def test_required_node_affinity_and_node_selector(spec, expected):
    assert schedulable(spec) == expected


def test_taints_still_need_a_toleration_whatever_the_affinity():
    tainted = replace(NODES[0], taints=({"key": "dedicated", "value": "big", "effect": "NoSchedule"},))
    spec = required({"matchExpressions": [expr("pool", "In", "big")]})
    assert not can_schedule(tainted, spec)
    assert can_schedule(tainted, {**spec, "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "big"}]})
