"""API JSON -> snapshots, on hand-written responses shaped like a real cluster's (kubectl get -o json)."""

from datetime import datetime, UTC

import pytest

from bot.cluster import convert

UTC = UTC
IMAGE = "registry.internal:5000/user-profile-service:2024.05.14-1"

NODE = {
    "metadata": {"name": "ip-10-0-2-63.ec2.internal", "creationTimestamp": "2024-04-11T08:03:12Z",
                 "labels": {"kubernetes.io/hostname": "ip-10-0-2-63.ec2.internal"}},
    "spec": {"unschedulable": True, "taints": [
        {"key": "node.kubernetes.io/disk-pressure", "effect": "NoSchedule", "timeAdded": "2024-05-14T02:51:40Z"}]},
    "status": {
        "capacity": {"cpu": "8", "ephemeral-storage": "31444972Ki", "memory": "32386524Ki", "pods": "58"},
        "allocatable": {"cpu": "7910m", "memory": "31369692Ki"},
        "conditions": [
            {"type": "DiskPressure", "status": "True", "lastHeartbeatTime": "2024-05-14T03:06:58Z",
             "lastTransitionTime": "2024-05-14T02:51:40Z", "reason": "KubeletHasDiskPressure",
             "message": "kubelet has disk pressure"},
            {"type": "Ready", "status": "False", "lastHeartbeatTime": "2024-05-14T03:06:58Z",
             "lastTransitionTime": "2024-05-14T02:58:21Z", "reason": "KubeletNotReady",
             "message": "PLEG is not healthy: pleg was last seen active 3m4.812s ago; threshold is 3m0s"},
        ],
        "images": [
            {"names": ["registry.internal:5000/user-profile-service@sha256:3c1f",
                       "registry.internal:5000/user-profile-service:2024.05.14-1"], "sizeBytes": 4509715660},
            {"names": ["registry.k8s.io/pause:3.9"], "sizeBytes": 321520},
        ],
    },
}

POD = {
    "metadata": {
        "name": "user-profile-service-7d9f8b6c5d-x8k2p", "namespace": "prod",
        "creationTimestamp": "2024-05-14T02:52:47Z",
        "labels": {"app": "user-profile-service", "pod-template-hash": "7d9f8b6c5d"},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "user-profile-service-7d9f8b6c5d",
                             "uid": "0b8d6c1e-2f3a-4b5c-9d7e-1a2b3c4d5e6f", "controller": True,
                             "blockOwnerDeletion": True}],
    },
    "spec": {
        "nodeName": "ip-10-0-2-63.ec2.internal",
        "containers": [
            {"name": "app", "image": "registry.internal:5000/user-profile-service:2024.05.14-1",
             "resources": {"requests": {"cpu": "500m", "memory": "768Mi"}},
             "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 10},
             "livenessProbe": {"exec": {"command": ["cat", "/tmp/healthy"]}}},
            {"name": "envoy", "image": "envoyproxy/envoy:v1.29.4",
             "resources": {"limits": {"memory": "256Mi"}},
             "readinessProbe": {"httpGet": {"path": "/ready", "port": 9901, "scheme": "HTTP"}}},
        ],
    },
    "status": {
        "phase": "Pending",
        "conditions": [{"type": "Ready", "status": "False", "lastProbeTime": None,
                        "lastTransitionTime": "2024-05-14T02:52:48Z", "reason": "ContainersNotReady"}],
        "containerStatuses": [
            {"name": "envoy", "ready": True, "restartCount": 0, "image": "envoyproxy/envoy:v1.29.4",
             "imageID": "docker.io/envoyproxy/envoy@sha256:aa",
             "state": {"running": {"startedAt": "2024-05-14T02:52:50Z"}}, "lastState": {}},
            {"name": "app", "ready": False, "restartCount": 4, "image": IMAGE, "imageID": "",
             "state": {"waiting": {"reason": "ImagePullBackOff", "message": f"Back-off pulling image \"{IMAGE}\""}},
             "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled",
                                          "startedAt": "2024-05-14T02:53:00Z", "finishedAt": "2024-05-14T02:54:00Z"}}},
        ],
    },
}


def test_parse_time_variants():
    assert convert.parse_time("2024-05-14T02:38:03Z") == datetime(2024, 5, 14, 2, 38, 3, tzinfo=UTC)
    # MicroTime (eventTime) and offsets are normalised to UTC.
    assert convert.parse_time("2024-05-14T02:38:03.123456Z").microsecond == 123456
    assert convert.parse_time("2024-05-14T04:38:03+02:00") == datetime(2024, 5, 14, 2, 38, 3, tzinfo=UTC)
    assert convert.parse_time(None) is None and convert.parse_time("") is None
    assert convert.parse_time("not a time") is None


def test_node():
    node = convert.node(NODE)
    assert node.name == "ip-10-0-2-63.ec2.internal" and node.unschedulable
    assert not node.ready
    pressure = node.condition("DiskPressure")
    assert pressure.reason == "KubeletHasDiskPressure"
    assert pressure.last_transition == datetime(2024, 5, 14, 2, 51, 40, tzinfo=UTC)
    assert pressure.last_heartbeat.tzinfo is UTC
    assert node.images[0].size_bytes == 4509715660 and node.images[0].names[1].endswith(":2024.05.14-1")
    assert node.capacity["ephemeral-storage"] == "31444972Ki"
    assert node.taints[0]["key"] == "node.kubernetes.io/disk-pressure"
    assert node.created_at == datetime(2024, 4, 11, 8, 3, 12, tzinfo=UTC)


def test_node_without_optional_fields():
    node = convert.node({"metadata": {"name": "bare"}, "status": {}})
    assert node.name == "bare" and node.images == () and node.conditions == () and not node.ready


def test_pod_containers_probes_limits_and_states():
    pod = convert.pod(POD)
    assert pod.owners[0].kind == "ReplicaSet" and pod.owners[0].uid.startswith("0b8d")
    app, envoy = pod.containers
    assert app.memory_limit is None and app.memory_request == "768Mi"
    assert app.readiness_probe.kind == "tcp" and app.liveness_probe.kind == "exec"
    assert envoy.memory_limit == "256Mi" and envoy.readiness_probe.kind == "http"
    assert envoy.readiness_probe.detail == "http :9901/ready"
    # Statuses are matched by name, not by position.
    assert app.state == "waiting" and app.state_reason == "ImagePullBackOff"
    assert app.restart_count == 4 and app.last_terminated_reason == "OOMKilled" and app.image_id is None
    assert envoy.state == "running" and envoy.ready
    assert pod.phase == "Pending" and not pod.ready
    assert pod.created_at == datetime(2024, 5, 14, 2, 52, 47, tzinfo=UTC)


def test_evicted_pod_keeps_reason_and_message():
    pod = convert.pod({
        "metadata": {"name": "p", "namespace": "prod"},
        "spec": {"containers": [{"name": "app", "image": "i"}]},
        "status": {"phase": "Failed", "reason": "Evicted",
                   "message": "The node was low on resource: ephemeral-storage. "},
    })
    assert pod.reason == "Evicted" and pod.message.startswith("The node was low")
    assert pod.containers[0].state is None and pod.containers[0].ready is None


def test_event_with_legacy_timestamps():
    event = convert.event({
        "metadata": {"name": "p.17cf", "namespace": "prod", "uid": "u1"},
        "involvedObject": {"kind": "Pod", "namespace": "prod", "name": "p"},
        "reason": "BackOff", "message": "Back-off pulling image \"x\"", "type": "Normal", "count": 23,
        "firstTimestamp": "2024-05-14T02:58:33Z", "lastTimestamp": "2024-05-14T03:06:57Z",
        "source": {"component": "kubelet", "host": "n"}, "eventTime": None,
    })
    assert event.count == 23 and event.source == "kubelet" and event.uid == "u1"
    assert event.first_at < event.last_at


def test_event_with_event_time_and_series_only():
    """events.k8s.io writers leave firstTimestamp/lastTimestamp null."""
    event = convert.event({
        "metadata": {"name": "e", "namespace": "prod"},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": "prod"},
        "reason": "Unhealthy", "message": "Readiness probe failed", "type": "Warning",
        "firstTimestamp": None, "lastTimestamp": None, "count": None,
        "eventTime": "2024-05-14T02:43:16.512344Z", "reportingComponent": "kubelet",
        "series": {"count": 17, "lastObservedTime": "2024-05-14T03:05:10.000001Z"},
    })
    assert event.first_at == datetime(2024, 5, 14, 2, 43, 16, 512344, tzinfo=UTC)
    assert event.last_at == datetime(2024, 5, 14, 3, 5, 10, 1, tzinfo=UTC)
    assert event.count == 17 and event.source == "kubelet"


def test_replicaset_revision_and_history():
    rs = convert.replicaset({
        "metadata": {"name": "web-84c7d5b96f", "namespace": "prod", "creationTimestamp": "2024-04-18T09:12:44Z",
                     "annotations": {"deployment.kubernetes.io/revision": "3",
                                     "deployment.kubernetes.io/revision-history": "1, 2"},
                     "ownerReferences": [{"kind": "Deployment", "name": "web", "uid": "d1"}]},
        "spec": {"replicas": 0, "template": {"metadata": {"labels": {"app": "web"}},
                                             "spec": {"containers": [{"name": "app", "image": "web:3"}]}}},
        "status": {"replicas": 0, "observedGeneration": 2},
    })
    assert rs.revision == 3 and rs.revision_history == (1, 2)
    assert rs.replicas == 0 and rs.ready_replicas == 0  # omitted means zero on the wire
    assert rs.owners[0].name == "web" and rs.containers[0].image == "web:3"
    assert rs.template["metadata"]["labels"] == {"app": "web"}


def test_deployment_without_revision_annotation():
    dep = convert.deployment({
        "metadata": {"name": "web", "namespace": "prod", "uid": "d1"},
        "spec": {"replicas": 3, "paused": True, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"spec": {"containers": [{"name": "app", "image": "web:1",
                                                       "resources": {"limits": {"memory": "1Gi"}}}]}}},
        "status": {},
    })
    assert dep.revision is None and dep.paused and dep.selector == {"app": "web"}
    assert dep.containers[0].memory_limit == "1Gi" and dep.ready_replicas == 0


def test_hpa_v2():
    hpa = convert.hpa({
        "metadata": {"name": "web", "namespace": "prod"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                 "minReplicas": 6, "maxReplicas": 30},
        "status": {"currentReplicas": 30, "desiredReplicas": 30, "lastScaleTime": "2024-05-14T03:04:41Z",
                   "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu",
                                                                        "current": {"averageUtilization": 186}}}],
                   "conditions": [{"type": "ScalingLimited", "status": "True", "reason": "TooManyReplicas",
                                   "lastTransitionTime": "2024-05-14T03:04:41Z"}]},
    })
    assert (hpa.target_kind, hpa.target_name, hpa.max_replicas) == ("Deployment", "web", 30)
    assert hpa.last_scale_time == datetime(2024, 5, 14, 3, 4, 41, tzinfo=UTC)
    assert hpa.conditions[0].reason == "TooManyReplicas"
    assert hpa.current_metrics[0]["resource"]["current"]["averageUtilization"] == 186


def test_summary_without_image_fs():
    summary = convert.node_fs_summary("n1", {"node": {"nodeName": "n1", "fs": {
        "availableBytes": 10, "capacityBytes": 100, "usedBytes": 90, "inodesFree": 5, "inodes": 9, "inodesUsed": 4}}})
    assert summary.nodefs.used_ratio == 0.9 and summary.imagefs is None


# ---------------------------------------------------------------- summary from the raw body

_NODE = {"nodeName": "n1", "fs": {"capacityBytes": 100, "availableBytes": 10, "usedBytes": 90},
         "runtime": {"imageFs": {"capacityBytes": 200, "availableBytes": 50, "usedBytes": 150,
                                 "inodes": 10, "inodesFree": 1}}}


def test_summary_body_compact_and_indented_agree_with_the_parsed_object():
    import json

    whole = {"node": _NODE, "pods": [{"podRef": {"name": "p"}, "node": {"nodeName": "decoy"}}]}
    expected = convert.node_fs_summary("n1", whole)
    assert convert.node_fs_summary_body("n1", json.dumps(whole).encode()) == expected
    assert convert.node_fs_summary_body("n1", json.dumps(whole, indent=2).encode()) == expected
    assert expected.imagefs is not None and expected.imagefs.inodes_free == 1


def test_summary_body_reads_only_the_node_object_when_it_comes_first():
    import json

    body = '{"node": ' + json.dumps(_NODE) + ', "pods": [ this part is never parsed'
    assert convert.node_fs_summary_body("n1", body).nodefs.used_ratio == 0.9


def test_summary_body_with_node_not_first_is_parsed_whole():
    import json

    body = json.dumps({"pods": [{"node": {"nodeName": "decoy"}}], "node": _NODE}).encode()
    summary = convert.node_fs_summary_body("n1", body)
    assert summary.node == "n1" and summary.nodefs.used_ratio == 0.9


def test_summary_body_that_is_not_a_summary_raises_value_error():
    for body in (b"<html>bad gateway</html>", b"[1, 2]", b'{"node": [1]}', b'{"node": {"fs": ', b"\xff\xfe",
                 b'{"node": 3, "pods": []}'):
        with pytest.raises(ValueError):  # noqa: PT011 - JSON, UTF-8 and shape errors each raise their own kind
            convert.node_fs_summary_body("n1", body)


def test_summary_body_without_a_node_is_empty():
    summary = convert.node_fs_summary_body("n1", b'{"pods": []}')
    assert summary.node == "n1" and summary.nodefs is None and summary.imagefs is None


def test_summary_process_counts_per_pod_and_the_nodes_rlimit():
    summary = convert.node_fs_summary("n1", {
        "node": {"nodeName": "n1", "rlimit": {"maxpid": 32768, "curproc": 29800}},
        "pods": [
            {"podRef": {"name": "a", "namespace": "x"}, "process_stats": {"process_count": 29400}},
            {"podRef": {"name": "b", "namespace": "x"}},  # an older kubelet: no process_stats
            {"podRef": {"name": "c", "namespace": "x"}, "process_stats": "garbage"},
        ],
    }, pods=True)
    assert (summary.processes, summary.max_pids) == (29800, 32768)
    assert [p.process_count for p in summary.pods or ()] == [29400, None, None]
