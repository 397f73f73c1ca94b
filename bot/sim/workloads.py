"""Jobs, CronJobs, DaemonSets and StatefulSets with their pods, named and labelled as their controllers
do it: a Job's pods carry its `controller-uid` labels and selector, a CronJob's Jobs are named after
their scheduled minute, a DaemonSet's pods are one per node, a StatefulSet's are `<name>-<ordinal>`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.sim.objects import object_meta, owner_reference, safe_hash, ts, uid_for
from bot.sim.pods import (
    PodBuilder,
    PodOwner,
    build_container,
    build_template,
    pod_ready,
)
from bot.sim.schema import PodGroupBase, WorkloadRevisionSpec, WorkloadSpec


class WorkloadObjects:
    """What one workload spec expands to: its own objects (a CronJob adds its Jobs), pods and events."""

    def __init__(self) -> None:
        self.jobs: list[dict[str, Any]] = []
        self.cronjobs: list[dict[str, Any]] = []
        self.daemonsets: list[dict[str, Any]] = []
        self.statefulsets: list[dict[str, Any]] = []
        self.controllerrevisions: list[dict[str, Any]] = []
        self.pods: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []


def _live(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in pods if p["status"]["phase"] in ("Running", "Pending")]


class _Expander:
    def __init__(self, spec: WorkloadSpec, builder: PodBuilder, out: WorkloadObjects) -> None:
        self.spec = spec
        self.builder = builder
        self.out = out
        self.what = f"workloads: {spec.kind} {spec.namespace}/{spec.name}"
        self.labels = dict(spec.labels) or {"app": spec.name}

    def template(self, labels: dict[str, str], restart_policy: str = "Always",
                 revision: WorkloadRevisionSpec | None = None) -> dict[str, Any]:
        image = (revision.image if revision else None) or self.spec.image
        main = build_container(self.spec.container, image, revision.container if revision else None)
        return build_template(main, self.spec, labels, service_account="default", restart_policy=restart_policy)

    def pods(self, owner: PodOwner | Callable[[Any], PodOwner], groups: Sequence[PodGroupBase], name_of: Any,
             extra_labels: Any = None) -> list[dict[str, Any]]:
        """`owner` may depend on the group (a StatefulSet's or DaemonSet's pods of different revisions);
        `extra_labels(name, ordinal, group)`."""
        out = []
        ordinal = 0
        for group_index, group in enumerate(groups):
            group_owner = owner(group) if callable(owner) else owner
            for i in range(group.count):
                name = group.names[i] if group.names else name_of(group_index, i, ordinal)
                labels = extra_labels(name, ordinal, group) if extra_labels else None
                pod, events = self.builder.pod(group_owner, group, name, i, labels)
                out.append(pod)
                self.out.events.extend(events)
                ordinal += 1
        self.out.pods.extend(out)
        return out

    # ------------------------------------------------------------ Job

    def job(self, name: str, created: datetime, groups: Sequence[PodGroupBase],
            owner_ref: dict[str, Any] | None = None) -> dict[str, Any]:
        spec = self.spec
        uid = uid_for("Job", spec.namespace, name)
        job_labels = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
                      "controller-uid": uid, "job-name": name}
        template = self.template({**self.labels, **job_labels}, restart_policy=spec.restart_policy)
        owner = PodOwner(spec.namespace, template, owner_reference("batch/v1", "Job", name, uid), f"{name}-",
                         self.what)
        pods = self.pods(owner, groups, lambda g, i, _: f"{name}-{safe_hash(f'{name}/{g}/{i}', 5)}")
        meta = object_meta(name, spec.namespace, created, "Job", labels={**self.labels, **job_labels},
                           annotations={"batch.kubernetes.io/job-tracking": ""})
        meta["generation"] = 1
        if owner_ref is not None:
            meta["ownerReferences"] = [owner_ref]
        succeeded = sum(1 for p in pods if p["status"]["phase"] == "Succeeded")
        failed = sum(1 for p in pods if p["status"]["phase"] == "Failed")
        active = len(_live(pods))
        status: dict[str, Any] = {"startTime": ts(created), "uncountedTerminatedPods": {},
                                  "ready": sum(1 for p in pods if pod_ready(p))}
        if active:
            status["active"] = active
        if succeeded:
            status["succeeded"] = succeeded
        if failed:
            status["failed"] = failed
        completions = spec.completions if spec.completions is not None else 1
        if succeeded >= completions and not active:
            finished = max((p["status"].get("startTime") or "" for p in pods), default=ts(created))
            status["completionTime"] = finished
            status["conditions"] = [{"type": "Complete", "status": "True", "lastProbeTime": finished,
                                     "lastTransitionTime": finished}]
        job = {
            "kind": "Job", "apiVersion": "batch/v1", "metadata": meta,
            "spec": {"parallelism": spec.parallelism if spec.parallelism is not None else 1,
                     "completions": completions, "backoffLimit": spec.backoff_limit,
                     "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}},
                     "manualSelector": False, "template": template, "completionMode": "NonIndexed",
                     "suspend": False, "podReplacementPolicy": "TerminatingOrFailed"},
            "status": status,
        }
        self.out.jobs.append(job)
        return job

    def cronjob(self) -> None:
        spec = self.spec
        uid = uid_for("CronJob", spec.namespace, spec.name)
        ref = owner_reference("batch/v1", "CronJob", spec.name, uid)
        active_refs, last_success = [], None
        for group in spec.pods:  # each group is one run: the controller names it after the scheduled minute
            job_name = f"{spec.name}-{int(group.created.timestamp()) // 60}"
            job = self.job(job_name, group.created, [group], ref)
            if job["status"].get("active"):
                active_refs.append({"kind": "Job", "namespace": spec.namespace, "name": job_name,
                                    "uid": job["metadata"]["uid"], "apiVersion": "batch/v1"})
            if job["status"].get("completionTime"):
                last_success = job["status"]["completionTime"]
        meta = object_meta(spec.name, spec.namespace, spec.created, "CronJob", labels=dict(self.labels))
        meta["generation"] = 1
        status: dict[str, Any] = {}
        if active_refs:
            status["active"] = active_refs
        if spec.pods:
            status["lastScheduleTime"] = ts(max(g.created for g in spec.pods))
        if last_success:
            status["lastSuccessfulTime"] = last_success
        template = self.template(dict(self.labels), restart_policy=spec.restart_policy)
        self.out.cronjobs.append({
            "kind": "CronJob", "apiVersion": "batch/v1", "metadata": meta,
            "spec": {"schedule": spec.schedule, "concurrencyPolicy": "Allow", "suspend": False,
                     "jobTemplate": {"metadata": {"creationTimestamp": None},
                                     "spec": {"backoffLimit": spec.backoff_limit, "template": template}},
                     "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1},
            "status": status,
        })

    # ------------------------------------------------------------ DaemonSet and StatefulSet

    def revisions(self, kind: str, uid: str) -> list[_Revision]:
        """The workload's ControllerRevisions, oldest first, named `<name>-<hash>` as the controllers name
        them; `.data` is the pod template as the strategic merge patch `kubectl rollout undo` applies."""
        spec = self.spec
        given = sorted(spec.revisions, key=lambda r: r.revision) or [
            WorkloadRevisionSpec(revision=1, created=spec.created)]
        out = []
        for rev in given:
            image = rev.image or spec.image
            seed = f"{spec.namespace}/{spec.name}/{image}" if not spec.revisions else \
                f"{spec.namespace}/{spec.name}/{rev.revision}/{image}"
            revision_hash = safe_hash(seed, 10)
            template = self.template(dict(self.labels), revision=rev)
            name = f"{spec.name}-{revision_hash}"
            meta = object_meta(name, spec.namespace, rev.created, "ControllerRevision",
                               labels={**self.labels, "controller-revision-hash": revision_hash})
            meta["ownerReferences"] = [owner_reference("apps/v1", kind, spec.name, uid)]
            patch_template = {**template, "$patch": "replace"}
            self.out.controllerrevisions.append({
                "kind": "ControllerRevision", "apiVersion": "apps/v1", "metadata": meta,
                "data": {"spec": {"template": patch_template}}, "revision": rev.revision,
            })
            out.append(_Revision(rev.revision, name, revision_hash, template))
        return out

    def _of(self, revisions: list[_Revision], group: Any) -> _Revision:
        number = getattr(group, "revision", None)
        return next((r for r in revisions if r.number == number), revisions[-1])

    def daemonset(self) -> None:
        spec = self.spec
        uid = uid_for("DaemonSet", spec.namespace, spec.name)
        revisions = self.revisions("DaemonSet", uid)
        ref = owner_reference("apps/v1", "DaemonSet", spec.name, uid)
        owners = {r.number: PodOwner(spec.namespace, r.template, ref, f"{spec.name}-", self.what) for r in revisions}
        # A DaemonSet's pods carry the bare hash; its ControllerRevision is named `<name>-<hash>`.
        pods = self.pods(lambda g: owners[self._of(revisions, g).number], spec.pods,
                         lambda g, i, _: f"{spec.name}-{safe_hash(f'{spec.name}/{g}/{i}', 5)}",
                         lambda _name, _ordinal, g: {"controller-revision-hash": self._of(revisions, g).hash,
                                                     "pod-template-generation": str(len(revisions))})
        scheduled = [p for p in _live(pods) if p["spec"].get("nodeName")]
        ready = sum(1 for p in scheduled if pod_ready(p))
        newest = revisions[-1]
        updated = sum(1 for p in scheduled if p["metadata"]["labels"].get("controller-revision-hash") == newest.hash)
        generation = len(revisions)
        meta = object_meta(spec.name, spec.namespace, spec.created, "DaemonSet", labels=dict(self.labels),
                           annotations={"deprecated.daemonset.template.generation": str(generation)})
        meta["generation"] = generation
        status: dict[str, Any] = {"currentNumberScheduled": len(scheduled), "numberMisscheduled": 0,
                                  "desiredNumberScheduled": len(scheduled), "numberReady": ready,
                                  "observedGeneration": generation, "updatedNumberScheduled": updated,
                                  "numberAvailable": ready}
        if len(scheduled) - ready:
            status["numberUnavailable"] = len(scheduled) - ready
        self.out.daemonsets.append({
            "kind": "DaemonSet", "apiVersion": "apps/v1", "metadata": meta,
            "spec": {"selector": {"matchLabels": dict(self.labels)}, "template": newest.template,
                     "updateStrategy": {"type": "OnDelete"} if spec.update_strategy == "OnDelete" else {
                         "type": "RollingUpdate",
                         "rollingUpdate": {"maxUnavailable": spec.max_unavailable, "maxSurge": 0}},
                     "revisionHistoryLimit": 10},
            "status": status,
        })

    def statefulset(self) -> None:
        spec = self.spec
        uid = uid_for("StatefulSet", spec.namespace, spec.name)
        revisions = self.revisions("StatefulSet", uid)
        ref = owner_reference("apps/v1", "StatefulSet", spec.name, uid)
        owners = {r.number: PodOwner(spec.namespace, r.template, ref, None, self.what) for r in revisions}
        # A StatefulSet's pods carry the ControllerRevision's name, which status.currentRevision and
        # updateRevision name too.
        pods = self.pods(lambda g: owners[self._of(revisions, g).number], spec.pods,
                         lambda _g, _i, ordinal: f"{spec.name}-{ordinal}",
                         lambda name, ordinal, g: {"controller-revision-hash": self._of(revisions, g).name,
                                                   "statefulset.kubernetes.io/pod-name": name,
                                                   "apps.kubernetes.io/pod-index": str(ordinal)})
        claims = _claim_templates(pods, revisions)
        live = _live(pods)
        ready = sum(1 for p in live if pod_ready(p))
        replicas = spec.replicas if spec.replicas is not None else len(pods)
        newest = revisions[-1]
        on_newest = [p for p in live if p["metadata"]["labels"].get("controller-revision-hash") == newest.name]
        # The rolling update is done when every pod runs the newest revision; until then currentRevision
        # stays the revision the other pods run.
        older = [p["metadata"]["labels"].get("controller-revision-hash") for p in live if p not in on_newest]
        current = older[0] if older else newest.name
        meta = object_meta(spec.name, spec.namespace, spec.created, "StatefulSet", labels=dict(self.labels))
        meta["generation"] = len(revisions)
        self.out.statefulsets.append({
            "kind": "StatefulSet", "apiVersion": "apps/v1", "metadata": meta,
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(self.labels)}, "template": newest.template,
                     "serviceName": spec.name, "podManagementPolicy": "OrderedReady",
                     **({"volumeClaimTemplates": claims} if claims else {}),
                     "updateStrategy": {"type": "OnDelete"} if spec.update_strategy == "OnDelete" else {
                         "type": "RollingUpdate", "rollingUpdate": {"partition": spec.partition}},
                     "revisionHistoryLimit": 10, "persistentVolumeClaimRetentionPolicy": {
                         "whenDeleted": "Retain", "whenScaled": "Retain"}},
            "status": {"observedGeneration": len(revisions), "replicas": len(live), "readyReplicas": ready,
                       "currentReplicas": len(live) - len(on_newest) if older else len(live),
                       "updatedReplicas": len(on_newest), "currentRevision": current,
                       "updateRevision": newest.name, "collisionCount": 0, "availableReplicas": ready},
        })


def _claim_templates(pods: list[dict[str, Any]], revisions: list[_Revision]) -> list[dict[str, Any]]:
    """A StatefulSet's `pvc` volumes are its volumeClaimTemplates: the controller gives each pod its own
    claim, `<template>-<pod>`, and keeps them out of the pod template (and so out of its revisions)."""
    names: list[str] = []
    for rev in revisions:
        volumes = rev.template["spec"].get("volumes") or []
        names = [v["persistentVolumeClaim"]["claimName"] for v in volumes if "persistentVolumeClaim" in v]
        kept = [v for v in volumes if "persistentVolumeClaim" not in v]
        if kept:
            rev.template["spec"]["volumes"] = kept
        else:
            rev.template["spec"].pop("volumes", None)
    for pod in pods:
        if not pod["spec"].get("volumes"):
            continue
        # New dicts: a pod's volumes are its template's objects until here.
        pod["spec"]["volumes"] = [
            {"name": v["name"], "persistentVolumeClaim": {
                "claimName": f"{v['persistentVolumeClaim']['claimName']}-{pod['metadata']['name']}"}}
            if v.get("persistentVolumeClaim", {}).get("claimName") in names else v
            for v in pod["spec"]["volumes"]
        ]
    return [{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}},
                      "volumeMode": "Filesystem"}} for name in names]


@dataclass(frozen=True)
class _Revision:
    number: int
    name: str  # the ControllerRevision's: `<workload>-<hash>`
    hash: str
    template: dict[str, Any]


def expand_workload(spec: WorkloadSpec, builder: PodBuilder, out: WorkloadObjects) -> None:
    expander = _Expander(spec, builder, out)
    if spec.kind == "Job":
        expander.job(spec.name, spec.created, spec.pods)
    elif spec.kind == "CronJob":
        expander.cronjob()
    elif spec.kind == "DaemonSet":
        expander.daemonset()
    else:
        expander.statefulset()
