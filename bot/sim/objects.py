"""What every simulated API object shares: deterministic names, uids and IPs, `ObjectMeta`, timestamps,
and Events in both of the API server's forms.

Names, uids and IPs are derived from hashes of the scenario content, so the same file always serves the
same bytes (tests and timeline dedupe keys depend on it).
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

_HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet of Kubernetes' SafeEncodeString
_UID_NAMESPACE = uuid.UUID("6f1c2a6e-6c1d-4c1e-9f53-8c1f0d3c0a11")


@functools.lru_cache(maxsize=65536)
def ts(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with a Z, as the API server writes `metav1.Time`."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_ts(value: datetime | None) -> str | None:
    """`metav1.MicroTime` (an event's `eventTime`, a series' `lastObservedTime`): microseconds, always six."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def safe_hash(seed: str, length: int) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(_HASH_ALPHABET[b % len(_HASH_ALPHABET)] for b in digest[:length])


def uid_for(*parts: str) -> str:
    return str(uuid.uuid5(_UID_NAMESPACE, "/".join(parts)))


def ip_for(seed: str, prefix: str = "10.0") -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return f"{prefix}.{digest[0] % 250 + 2}.{digest[1] % 250 + 2}"


def object_meta(name: str, namespace: str | None, created: datetime, kind: str, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["uid"] = uid_for(kind, namespace or "", name)
    meta["resourceVersion"] = str(int(hashlib.sha256(f"{kind}/{namespace}/{name}".encode()).hexdigest()[:7], 16))
    meta["creationTimestamp"] = ts(created)
    meta.update({k: v for k, v in extra.items() if v})
    return meta


def owner_reference(api_version: str, kind: str, name: str, uid: str) -> dict[str, Any]:
    """A controller's reference, as every built-in controller sets it on what it creates."""
    return {"apiVersion": api_version, "kind": kind, "name": name, "uid": uid, "controller": True,
            "blockOwnerDeletion": True}


API_VERSIONS = {"Pod": "v1", "Node": "v1", "Deployment": "apps/v1", "ReplicaSet": "apps/v1",
                "HorizontalPodAutoscaler": "autoscaling/v2", "Namespace": "v1", "Service": "v1",
                "Job": "batch/v1", "CronJob": "batch/v1", "DaemonSet": "apps/v1", "StatefulSet": "apps/v1",
                "ControllerRevision": "apps/v1", "PriorityClass": "scheduling.k8s.io/v1"}

EVENTS_V1 = "events.k8s.io/v1"


def build_event(*, kind: str, name: str, namespace: str | None, reason: str, message: str, type_: str,
                first: datetime, last: datetime | None, count: int, component: str, host: str | None,
                field_path: str | None = None, involved_uid: str | None = None, api: str = "v1",
                ) -> dict[str, Any]:
    """A core/v1 Event (name `<object>.<hex>`), as it is stored and served on /api/v1.

    `api="v1"`: written by the core recorder (the kubelet, most controllers): first/lastTimestamp and
    count. `api="events.k8s.io/v1"`: written by the new recorder (the scheduler): `eventTime`, a `series`
    once it repeats, and no first/lastTimestamp or count, which is how such an event reads on /api/v1."""
    event_ns = namespace if namespace is not None else "default"
    last = last or first
    suffix = hashlib.sha256(f"{kind}/{event_ns}/{name}/{reason}/{first.isoformat()}/{message}".encode()).hexdigest()
    event_name = f"{name}.{int(suffix[:15], 16):x}"[:253]
    involved: dict[str, Any] = {"kind": kind, "name": name, "apiVersion": API_VERSIONS.get(kind, "v1"),
                                "uid": involved_uid or uid_for(kind, namespace or "", name)}
    if kind != "Node":
        involved["namespace"] = event_ns
    if field_path:
        involved["fieldPath"] = field_path
    meta = object_meta(event_name, event_ns, first, "Event")
    if api == EVENTS_V1:
        event: dict[str, Any] = {
            "kind": "Event", "apiVersion": "v1", "metadata": meta, "involvedObject": involved, "reason": reason,
            "message": message, "source": {}, "firstTimestamp": None, "lastTimestamp": None, "type": type_,
            "eventTime": micro_ts(first), "action": reason, "reportingComponent": component,
            "reportingInstance": f"{component}-{host}" if host else component,
        }
        if count > 1:  # the recorder starts a series at the second occurrence
            event["series"] = {"count": count, "lastObservedTime": micro_ts(last)}
        return event
    source: dict[str, Any] = {"component": component}
    if host:
        source["host"] = host
    return {
        "kind": "Event", "apiVersion": "v1", "metadata": meta, "involvedObject": involved, "reason": reason,
        "message": message, "source": source, "firstTimestamp": ts(first), "lastTimestamp": ts(last),
        "count": count, "type": type_, "eventTime": None, "reportingComponent": component,
        "reportingInstance": host or "",
    }


def events_v1(event: dict[str, Any]) -> dict[str, Any]:
    """The same Event as events.k8s.io/v1 serves it (the API server's conversion from core/v1)."""
    out: dict[str, Any] = {"kind": "Event", "apiVersion": EVENTS_V1, "metadata": event["metadata"],
                           "eventTime": event.get("eventTime")}
    if event.get("series"):
        out["series"] = event["series"]
    out["reportingController"] = event.get("reportingComponent") or ""
    out["reportingInstance"] = event.get("reportingInstance") or ""
    if event.get("action"):
        out["action"] = event["action"]
    out.update({"reason": event.get("reason", ""), "regarding": event.get("involvedObject") or {},
                "note": event.get("message", ""), "type": event.get("type", "")})
    if event.get("source"):
        out["deprecatedSource"] = event["source"]
    out["deprecatedFirstTimestamp"] = event.get("firstTimestamp")
    out["deprecatedLastTimestamp"] = event.get("lastTimestamp")
    if event.get("count"):
        out["deprecatedCount"] = event["count"]
    return out
