"""API JSON -> snapshots for what reasoning about cause needs: owners, priority, QoS, resources, init
containers and sidecars, volumes, last terminated state, per-pod kubelet stats, both event forms. The
inputs are shaped like `kubectl get -o json` and the kubelet's `/stats/summary` on a real cluster."""

import json
from datetime import UTC, datetime

import pytest

from bot.cluster import convert


JOB_POD = {
    "metadata": {
        "name": "reindex-28675140-7xk2p", "namespace": "analytics", "uid": "5c1d3b52-0000-4000-8000-000000000001",
        "creationTimestamp": "2024-07-09T09:00:04Z",
        "labels": {"batch.kubernetes.io/controller-uid": "2f1e", "batch.kubernetes.io/job-name": "reindex-28675140",
                   "controller-uid": "2f1e", "job-name": "reindex-28675140"},
        "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "reindex-28675140", "uid": "2f1e",
                             "controller": True, "blockOwnerDeletion": True}],
    },
    "spec": {
        "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "20Gi"}},
                    {"name": "shm", "emptyDir": {"medium": "Memory"}},
                    {"name": "config", "configMap": {"name": "reindex", "defaultMode": 420}},
                    {"name": "kube-api-access-x", "projected": {"sources": []}}],
        "initContainers": [
            {"name": "migrate", "image": "registry.internal:5000/reindex:1.4", "resources": {}},
            {"name": "log-shipper", "image": "fluent/fluent-bit:3.0", "restartPolicy": "Always",
             "resources": {"limits": {"memory": "128Mi"}, "requests": {"memory": "128Mi", "cpu": "50m"}}},
        ],
        "containers": [{"name": "reindex", "image": "registry.internal:5000/reindex:1.4",
                        "resources": {"requests": {"cpu": "2", "memory": "4Gi"}}}],
        "priorityClassName": "batch-high", "priority": 100000, "preemptionPolicy": "PreemptLowerPriority",
        "nodeName": "ip-10-2-2-1.ec2.internal",
    },
    "status": {
        "phase": "Running", "qosClass": "Burstable", "startTime": "2024-07-09T09:00:04Z",
        "initContainerStatuses": [
            {"name": "migrate", "ready": False, "restartCount": 0,
             "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": "2024-07-09T09:00:06Z",
                                      "finishedAt": "2024-07-09T09:00:09Z"}}},
            {"name": "log-shipper", "ready": True, "restartCount": 0,
             "state": {"running": {"startedAt": "2024-07-09T09:00:10Z"}}},
        ],
        "containerStatuses": [{
            "name": "reindex", "ready": True, "restartCount": 2,
            "state": {"running": {"startedAt": "2024-07-09T09:31:40Z"}},
            "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "message": "memory cgroup out",
                                         "startedAt": "2024-07-09T09:12:00Z", "finishedAt": "2024-07-09T09:31:22Z"}},
        }],
    },
}


def test_pod_owner_priority_qos_and_resources():
    pod = convert.pod(JOB_POD)
    assert pod.controller is not None and (pod.controller.kind, pod.controller.name) == ("Job", "reindex-28675140")
    assert pod.controller.controller and pod.controller.api_version == "batch/v1"
    assert (pod.priority, pod.priority_class, pod.qos_class) == (100000, "batch-high", "Burstable")
    assert pod.uid == "5c1d3b52-0000-4000-8000-000000000001"
    main = pod.containers[0]
    assert main.requests == {"cpu": "2", "memory": "4Gi"} and main.limits == {}
    assert main.memory_limit is None and main.memory_request == "4Gi"


def test_init_containers_and_native_sidecars():
    pod = convert.pod(JOB_POD)
    assert [(c.name, c.kind) for c in pod.init_containers] == [("migrate", "init"), ("log-shipper", "sidecar")]
    assert pod.init_containers[0].state == "terminated" and pod.init_containers[0].state_reason == "Completed"
    assert pod.init_containers[1].limits == {"memory": "128Mi"} and pod.init_containers[1].ready
    assert pod.containers[0].kind == "container"


def test_last_terminated_state_with_its_own_times():
    last = convert.pod(JOB_POD).containers[0].last_terminated
    assert last is not None
    assert (last.reason, last.exit_code, last.message) == ("OOMKilled", 137, "memory cgroup out")
    assert last.started_at == datetime(2024, 7, 9, 9, 12, tzinfo=UTC)
    assert last.finished_at == datetime(2024, 7, 9, 9, 31, 22, tzinfo=UTC)
    assert convert.pod(JOB_POD).containers[0].last_terminated_reason == "OOMKilled"


def test_volumes_with_empty_dir_limits():
    volumes = {v.name: v for v in convert.pod(JOB_POD).volumes}
    assert (volumes["scratch"].kind, volumes["scratch"].size_limit, volumes["scratch"].medium) == (
        "emptyDir", "20Gi", None)
    assert volumes["shm"].medium == "Memory"
    assert volumes["config"].kind == "configMap" and volumes["kube-api-access-x"].kind == "projected"


def test_pod_without_priority_or_owner():
    pod = convert.pod({"metadata": {"name": "p", "namespace": "n"}, "spec": {"containers": []}, "status": {}})
    assert pod.controller is None and pod.priority is None and pod.qos_class is None
    assert pod.init_containers == () and pod.volumes == ()


def test_owner_without_controller_flag_falls_back_to_the_first():
    pod = convert.pod({"metadata": {"name": "p", "namespace": "n", "ownerReferences": [
        {"kind": "Node", "name": "n1", "uid": "u"}]}, "spec": {}, "status": {}})
    assert pod.controller is not None and pod.controller.kind == "Node" and not pod.controller.controller


def _fs(used, capacity=107_374_182_400):
    return {"time": "2024-07-09T09:48:00Z", "availableBytes": capacity - used, "capacityBytes": capacity,
            "usedBytes": used, "inodesFree": 6_000_000, "inodes": 6_553_600, "inodesUsed": 553_600}


SUMMARY = {
    "node": {
        "nodeName": "ip-10-2-2-1.ec2.internal",
        "memory": {"time": "2024-07-09T09:48:00Z", "availableBytes": 429_496_729, "usageBytes": 33_500_000_000,
                   "workingSetBytes": 33_930_000_000},
        "fs": _fs(102_005_473_280),
        "runtime": {"imageFs": _fs(42_949_672_960, 107_374_182_400 // 2 * 2 + 1)},
    },
    "pods": [
        {"podRef": {"name": "reindex-28675140-7xk2p", "namespace": "analytics", "uid": "5c1d"},
         "startTime": "2024-07-09T09:00:04Z",
         "containers": [
             {"name": "reindex", "memory": {"time": "2024-07-09T09:48:00Z", "workingSetBytes": 24_696_061_952},
              "rootfs": {"usedBytes": 40_960}, "logs": {"usedBytes": 52_428_800}},
             {"name": "log-shipper", "memory": {"workingSetBytes": 41_943_040},
              "rootfs": {"usedBytes": 4_096}, "logs": {"usedBytes": 1_048_576}},
         ],
         "memory": {"workingSetBytes": 24_738_004_992},
         "volume": [{"name": "scratch", "usedBytes": 16_106_127_360}, {"name": "config", "usedBytes": 8_192}],
         "ephemeral-storage": {"usedBytes": 16_159_617_024}},
        {"podRef": {"name": "api-gateway-5d8f-abcde", "namespace": "prod", "uid": "9e2a"},
         "containers": [{"name": "gateway", "memory": {"workingSetBytes": 805_306_368}}]},
    ],
}


def test_summary_pod_stats_only_when_asked():
    assert convert.node_fs_summary("n", SUMMARY).pods is None
    summary = convert.node_fs_summary("n", SUMMARY, pods=True)
    assert summary.memory_working_set_bytes == 33_930_000_000 and summary.memory_available_bytes == 429_496_729
    assert summary.pods is not None
    job, gateway = summary.pods
    assert (job.namespace, job.name, job.uid) == ("analytics", "reindex-28675140-7xk2p", "5c1d")
    assert job.memory_working_set_bytes == 24_738_004_992
    assert job.ephemeral_storage_used_bytes == 16_159_617_024
    assert [c.name for c in job.containers] == ["reindex", "log-shipper"]
    assert job.logs_used_bytes == 52_428_800 + 1_048_576 and job.rootfs_used_bytes == 45_056
    assert job.volumes_used_bytes == 16_106_127_360 + 8_192
    assert gateway.ephemeral_storage_used_bytes is None and gateway.volumes == ()
    assert gateway.containers[0].logs_used_bytes is None


def test_summary_body_with_pods_parses_the_whole_body():
    body = json.dumps(SUMMARY).encode()
    fast = convert.node_fs_summary_body("n", body)
    full = convert.node_fs_summary_body("n", body, pods=True)
    assert fast.pods is None and full.pods is not None and len(full.pods) == 2
    assert (fast.nodefs, fast.imagefs) == (full.nodefs, full.imagefs)
    with pytest.raises(ValueError, match="pods"):
        convert.node_fs_summary_body("n", json.dumps({"node": {}, "pods": {"a": 1}}), pods=True)


def test_summary_of_an_idle_node_has_no_pods():
    assert convert.node_fs_summary("n", {"node": {"fs": _fs(1)}}, pods=True).pods == ()


def test_separate_imagefs_is_told_from_a_shared_one():
    separate = convert.node_fs_summary("n", SUMMARY)
    assert separate.separate_imagefs is True
    shared = convert.node_fs_summary("n", {"node": {"fs": _fs(5), "runtime": {"imageFs": _fs(5)}}})
    assert shared.separate_imagefs is False
    assert convert.node_fs_summary("n", {"node": {"fs": _fs(5)}}).separate_imagefs is None


SCHEDULER_EVENT_V1 = {
    "kind": "Event", "apiVersion": "events.k8s.io/v1",
    "metadata": {"name": "api-gateway-5d8f-abcde.17e0a", "namespace": "prod", "uid": "e1"},
    "eventTime": "2024-07-09T09:40:01.412345Z",
    "series": {"count": 14, "lastObservedTime": "2024-07-09T09:47:30.000001Z"},
    "reportingController": "default-scheduler", "reportingInstance": "default-scheduler-ip-10-2-0-5",
    "action": "Scheduling", "reason": "FailedScheduling",
    "regarding": {"kind": "Pod", "namespace": "prod", "name": "api-gateway-5d8f-abcde", "uid": "9e2a"},
    "note": "0/5 nodes are available: 3 node(s) had untolerated taint {node.kubernetes.io/memory-pressure: }.",
    "type": "Warning", "deprecatedFirstTimestamp": None, "deprecatedLastTimestamp": None,
}


def test_events_k8s_io_v1_form():
    event = convert.event(SCHEDULER_EVENT_V1)
    assert (event.involved_kind, event.involved_name, event.namespace) == ("Pod", "api-gateway-5d8f-abcde", "prod")
    assert event.reason == "FailedScheduling" and event.message.startswith("0/5 nodes are available")
    assert event.count == 14 and event.source == "default-scheduler" and event.type == "Warning"
    assert event.first_at == datetime(2024, 7, 9, 9, 40, 1, 412345, tzinfo=UTC)
    assert event.last_at == datetime(2024, 7, 9, 9, 47, 30, 1, tzinfo=UTC)


def test_events_k8s_io_v1_of_a_core_recorder_event_keeps_its_deprecated_fields():
    event = convert.event({
        "metadata": {"name": "x.1", "namespace": "prod"}, "eventTime": None, "reason": "Evicted",
        "regarding": {"kind": "Pod", "name": "x"}, "note": "The node was low on resource: memory.",
        "type": "Warning", "deprecatedSource": {"component": "kubelet", "host": "n1"},
        "deprecatedFirstTimestamp": "2024-07-09T09:40:00Z", "deprecatedLastTimestamp": "2024-07-09T09:44:00Z",
        "deprecatedCount": 3,
    })
    assert (event.count, event.source, event.message) == (3, "kubelet", "The node was low on resource: memory.")
    assert event.first_at == datetime(2024, 7, 9, 9, 40, tzinfo=UTC)
    assert event.last_at == datetime(2024, 7, 9, 9, 44, tzinfo=UTC)


def test_core_form_of_a_new_recorder_event_counts_its_series():
    event = convert.event({
        "metadata": {"name": "x.2", "namespace": "prod"}, "involvedObject": {"kind": "Pod", "name": "x"},
        "reason": "FailedScheduling", "message": "0/5 nodes", "source": {}, "firstTimestamp": None,
        "lastTimestamp": None, "eventTime": "2024-07-09T09:40:01.000000Z", "reportingComponent": "default-scheduler",
        "series": {"count": 4, "lastObservedTime": "2024-07-09T09:41:01.000000Z"}, "type": "Warning",
    })
    assert (event.count, event.source) == (4, "default-scheduler")
    assert event.last_at == datetime(2024, 7, 9, 9, 41, 1, tzinfo=UTC)


def test_job_with_its_cronjob_owner():
    job = convert.workload({
        "kind": "Job", "apiVersion": "batch/v1",
        "metadata": {"name": "reindex-28675140", "namespace": "analytics", "uid": "2f1e",
                     "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "reindex",
                                          "uid": "c1", "controller": True}]},
        "spec": {"template": {"spec": {"priorityClassName": "batch-high", "containers": [
            {"name": "reindex", "image": "r:1", "resources": {"requests": {"memory": "4Gi"}}}]}}},
    })
    assert (job.kind, job.name, job.uid, job.priority_class) == ("Job", "reindex-28675140", "2f1e", "batch-high")
    assert [(o.kind, o.name, o.controller) for o in job.owners] == [("CronJob", "reindex", True)]
    assert job.containers[0].requests == {"memory": "4Gi"}


def test_cronjob_template_is_read_from_its_job_template():
    cron = convert.workload({"kind": "CronJob", "metadata": {"name": "c", "namespace": "n"}, "spec": {
        "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "i"}]}}}}}})
    assert [c.name for c in cron.containers] == ["a"] and cron.owners == ()
