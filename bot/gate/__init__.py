"""The gate: refuse an image before it ships (`coroner gate` in CI, the admission webhook at the door).

    decision = decide(candidate_report, reference_report, pressure=read_pressure(cluster, "prod", "api",
                                                                                 image_bytes=size))
    decision.verdict, decision.reasons, decision.to_json()

`decide` is pure: the callers read the images (the image autopsy) and the cluster (`read_pressure`).
"""

from bot.gate.decision import GateDecision, GatePolicy, GateReason, decide
from bot.gate.pressure import ClusterPressure, NodeImageFs, read_pressure

__all__ = [
    "ClusterPressure",
    "GateDecision",
    "GatePolicy",
    "GateReason",
    "NodeImageFs",
    "decide",
    "read_pressure",
]
