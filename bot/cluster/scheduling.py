"""Which nodes a pod spec can be scheduled on now: the scheduler's filters that depend on the node alone.

NodeUnschedulable (cordoned), TaintToleration (NoSchedule and NoExecute taints), and NodeAffinity: the
`nodeSelector` (every label equal) AND the required node affinity
(`affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution`: its `nodeSelectorTerms` ORed,
each term's `matchExpressions` and `matchFields` ANDed, an empty term matching no node). Left out, because
they move with the cluster's load or with where other pods run: resources, pod (anti-)affinity, topology
spread. Preferred affinity only ranks nodes, so it filters none.

The gate (`bot.gate.pressure`) uses it for the nodes that would pull an image, in CI (`coroner gate
--deployed`) and at the door (the admission webhook), for the pressure and for the platform of an index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.cluster.snapshots import NodeSnapshot

# The taints the DaemonSet controller tolerates for every pod it makes (and it ignores cordoning): its
# pods land on nodes a Deployment's would not.
DAEMONSET_TOLERATED = frozenset({
    "node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable", "node.kubernetes.io/disk-pressure",
    "node.kubernetes.io/memory-pressure", "node.kubernetes.io/pid-pressure", "node.kubernetes.io/unschedulable",
})


def can_schedule(node: NodeSnapshot, pod_spec: Mapping[str, Any], *, daemon: bool = False) -> bool:
    """Whether a pod with `pod_spec` could land on `node` now. A not-ready node receives none; a
    DaemonSet's pods (`daemon`) also go to cordoned nodes and tolerate the node-condition taints, as its
    controller adds those tolerations."""
    if not node.ready or (node.unschedulable and not daemon):
        return False
    selector: Mapping[str, str] = pod_spec.get("nodeSelector") or {}
    if any(node.labels.get(key) != value for key, value in selector.items()):
        return False
    if not required_affinity_matches(node, pod_spec.get("affinity") or {}):
        return False
    tolerations: Sequence[Mapping[str, Any]] = pod_spec.get("tolerations") or ()
    return all(
        taint.get("effect") not in ("NoSchedule", "NoExecute")
        or (daemon and taint.get("key") in DAEMONSET_TOLERATED)
        or any(tolerates(t, taint) for t in tolerations)
        for taint in node.taints
    )


def required_affinity_matches(node: NodeSnapshot, affinity: Mapping[str, Any]) -> bool:
    """The required node affinity of a pod's `affinity`; no such affinity allows every node."""
    required = (affinity.get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is None:
        return True
    terms: Sequence[Mapping[str, Any]] = required.get("nodeSelectorTerms") or ()
    return any(_term_matches(node, term) for term in terms)


def _term_matches(node: NodeSnapshot, term: Mapping[str, Any]) -> bool:
    expressions: Sequence[Mapping[str, Any]] = term.get("matchExpressions") or ()
    fields: Sequence[Mapping[str, Any]] = term.get("matchFields") or ()
    if not expressions and not fields:
        return False  # "a null or empty node selector term matches no objects"
    return (all(_expression_matches(node.labels, e) for e in expressions)
            and all(_expression_matches({"metadata.name": node.name}, f) for f in fields))


def _expression_matches(labels: Mapping[str, str], expression: Mapping[str, Any]) -> bool:
    """One NodeSelectorRequirement. An operator the API server would have refused matches nothing."""
    key, operator = expression.get("key"), expression.get("operator")
    values = [str(v) for v in expression.get("values") or ()]
    present = key in labels
    value = labels.get(str(key))
    if operator == "In":
        return present and value in values
    if operator == "NotIn":
        return not present or value not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and len(values) == 1:
        have, bound = _integer(value), _integer(values[0])
        if have is None or bound is None:
            return False
        return have > bound if operator == "Gt" else have < bound
    return False


def _integer(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
        return False
    key = toleration.get("key")
    if not key:  # an empty key with operator Exists tolerates everything
        return toleration.get("operator") == "Exists"
    if key != taint.get("key"):
        return False
    return toleration.get("operator") == "Exists" or toleration.get("value", "") == taint.get("value", "")
