"""Scenario objects beyond Deployments: Jobs, CronJobs, DaemonSets, StatefulSets, PriorityClasses; pods
with init containers, sidecars, volumes, per-pod kubelet stats and a full lastState; nodes whose kubelet
stopped posting status; events from the new recorder. Read back through `SimApi` (the same routes and
JSON the HTTP sim serves) and the production conversions."""

import json
import textwrap

import pytest

from tests.doubles.scenario_reader import ScenarioClusterReader
from bot.sim.scenario import ScenarioError, load_scenario
from bot.sim.server import SimApi

SCENARIO = """
name: workloads
now: 2024-07-09T09:48:00Z
priority_classes:
  - {name: batch-high, value: 100000}
  - {name: low, value: -10, preemption_policy: Never}
nodes:
  - name: node-{i}
    count: 3
    created: 2024-06-01T00:00:00Z
    imagefs: {capacity: 200Gi, used: 40%}
    nodefs: {capacity: 100Gi, used: 95%}
  - name: node-gone
    created: 2024-06-01T00:00:00Z
    ready: Unknown
    not_ready_since: 2024-07-09T09:30:00Z
workloads:
  - kind: CronJob
    name: reindex
    namespace: batch
    created: 2024-03-01T00:00:00Z
    image: reg:5000/reindex:1
    priority_class: batch-high
    container: {name: reindex, requests: {memory: 2Gi}, mounts: {scratch: /scratch}}
    volumes: [{name: scratch, empty_dir: {size_limit: 50Gi}}]
    pods:
      - {count: 1, nodes: [node-1], created: 2024-07-08T09:00:00Z, phase: Succeeded, ready: false}
      - count: 2
        nodes: [node-1, node-2]
        created: 2024-07-09T09:00:00Z
        stats: {memory: 20Gi, rootfs: 1Mi, logs: 3Gi, volumes: {scratch: 12Gi}}
  - kind: Job
    name: migrate-once
    namespace: batch
    created: 2024-07-09T08:00:00Z
    image: reg:5000/migrate:7
    priority_class: low
    container: {name: migrate, limits: {cpu: "1", memory: 1Gi}}
    pods:
      - {count: 1, nodes: [node-3], created: 2024-07-09T08:00:01Z, phase: Failed, ready: false, terminated: Error,
         exit_code: 2}
  - kind: DaemonSet
    name: fluent-bit
    namespace: logging
    created: 2024-01-01T00:00:00Z
    image: fluent/fluent-bit:3.0
    container: {name: fluent-bit, requests: {cpu: 100m, memory: 100Mi}, limits: {cpu: 100m, memory: 100Mi}}
    pods:
      - {count: 3, nodes: [node-1, node-2, node-3], created: 2024-06-01T00:01:00Z, stats: {memory: 60Mi, logs: 2Gi}}
  - kind: StatefulSet
    name: redis
    namespace: cache
    created: 2024-02-01T00:00:00Z
    image: redis:7.2
    container: {name: redis}
    init_containers:
      - {name: sysctl, image: "busybox:1.36", command: [sysctl, -w, net.core.somaxconn=1024]}
      - {name: exporter, image: "oliver006/redis_exporter:v1.58", restart_policy: Always,
         limits: {memory: 64Mi}}
    sidecars:
      - {name: log-tail, image: "busybox:1.36", requests: {memory: 16Mi}}
    volumes: [{name: tmp, empty_dir: {medium: Memory}}, {name: conf, config_map: redis-conf}]
    pods:
      - count: 2
        nodes: [node-2, node-3]
        created: 2024-06-02T00:00:00Z
        restarts: 3
        last_state: {reason: OOMKilled, exit_code: 137, message: "used 1Gi", started: 2024-07-09T08:10:00Z,
                     finished: 2024-07-09T09:20:00Z}
        stats:
          memory: 900Mi
          containers: {exporter: {memory: 20Mi}, log-tail: {logs: 5Gi}}
          volumes: {tmp: 100Mi, conf: 4Ki}
events:
  - {kind: Node, name: node-1, reason: FreeDiskSpaceFailed, type: Warning, first: 2024-07-09T09:10:00Z,
     last: 2024-07-09T09:40:00Z, count: 7, message: "Failed to garbage collect required amount of images"}
  - {kind: Pod, name: redis-0, namespace: cache, reason: FailedScheduling, type: Warning,
     component: default-scheduler, api: events.k8s.io/v1, first: 2024-07-09T09:31:00Z,
     last: 2024-07-09T09:45:00Z, count: 12, message: "0/4 nodes are available"}
"""


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    path = tmp_path_factory.mktemp("s") / "workloads.yaml"
    path.write_text(textwrap.dedent(SCENARIO))
    return load_scenario(path)


@pytest.fixture(scope="module")
def api(scenario):
    return SimApi(scenario)


@pytest.fixture(scope="module")
def reader(scenario):
    return ScenarioClusterReader(scenario)


def get(api, path):
    code, body = api.handle("GET", path)
    assert code == 200, body
    return json.loads(body)


def pods_by_name(reader):
    return {p.name: p for p in reader.list_pods(None)}


def test_cronjob_runs_are_jobs_named_after_their_minute_owning_their_pods(api, reader):
    cron = get(api, "/apis/batch/v1/namespaces/batch/cronjobs/reindex")
    assert cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["priorityClassName"] == "batch-high"
    assert cron["status"]["lastScheduleTime"] == "2024-07-09T09:00:00Z"
    jobs = {j.name: j for j in reader.list_jobs("batch")}
    yesterday, today = "reindex-28673820", "reindex-28675260"
    assert set(jobs) == {yesterday, today, "migrate-once"}
    assert [(o.kind, o.name) for o in jobs[today].owners] == [("CronJob", "reindex")]
    assert jobs["migrate-once"].owners == ()
    assert [a["name"] for a in cron["status"]["active"]] == [today]
    job = get(api, f"/apis/batch/v1/namespaces/batch/jobs/{today}")
    uid = job["metadata"]["uid"]
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert job["status"]["active"] == 2
    assert get(api, f"/apis/batch/v1/namespaces/batch/jobs/{yesterday}")["status"]["succeeded"] == 1
    pods = reader.list_pods("batch", label_selector=f"batch.kubernetes.io/controller-uid={uid}")
    assert len(pods) == 2
    assert all(p.controller.kind == "Job" and p.controller.name == today and p.controller.uid == uid for p in pods)
    assert all(p.labels["job-name"] == today for p in pods)


def test_priority_resolved_at_admission_and_classes_served(api, reader):
    pods = reader.list_pods(None)
    reindex = [p for p in pods if p.name.startswith("reindex-28675260-")]
    assert {(p.priority, p.priority_class) for p in reindex} == {(100000, "batch-high")}
    migrate = next(p for p in pods if p.name.startswith("migrate-once-"))
    assert (migrate.priority, migrate.priority_class) == (-10, "low")
    redis = next(p for p in pods if p.name == "redis-0")
    assert (redis.priority, redis.priority_class) == (0, None)
    raw = get(api, "/api/v1/namespaces/batch/pods/" + migrate.name)
    assert raw["spec"]["preemptionPolicy"] == "Never"
    classes = {c["metadata"]["name"]: c for c in get(api, "/apis/scheduling.k8s.io/v1/priorityclasses")["items"]}
    assert classes["batch-high"]["value"] == 100000 and classes["low"]["preemptionPolicy"] == "Never"


def test_qos_class_as_the_kubelet_computes_it(reader):
    pods = pods_by_name(reader)
    qos = {name.rsplit("-", 1)[0]: p.qos_class for name, p in pods.items()}
    assert qos["reindex-28675260"] == "Burstable"  # a request, no limit
    assert qos["migrate-once"] == "Guaranteed"  # limits only: requests are defaulted from them
    assert qos["fluent-bit"] == "Guaranteed"
    assert qos["redis"] == "Burstable"  # a sidecar requests memory, the main container nothing
    migrate = next(p for p in pods.values() if p.name.startswith("migrate-once-"))
    assert migrate.containers[0].requests == {"cpu": "1", "memory": "1Gi"}


def test_owners_of_daemonset_and_statefulset_pods(api, reader):
    pods = pods_by_name(reader)
    assert sorted(n for n in pods if n.startswith("redis-")) == ["redis-0", "redis-1"]
    assert pods["redis-1"].controller.kind == "StatefulSet"
    assert pods["redis-1"].labels["statefulset.kubernetes.io/pod-name"] == "redis-1"
    fluent = [p for p in pods.values() if p.name.startswith("fluent-bit-")]
    assert {p.node_name for p in fluent} == {"node-1", "node-2", "node-3"}
    assert {p.controller.kind for p in fluent} == {"DaemonSet"}
    ds = get(api, "/apis/apps/v1/namespaces/logging/daemonsets/fluent-bit")
    assert ds["status"]["desiredNumberScheduled"] == 3 and ds["status"]["numberReady"] == 3
    sts = get(api, "/apis/apps/v1/namespaces/cache/statefulsets/redis")
    assert sts["spec"]["replicas"] == 2 and sts["status"]["readyReplicas"] == 2


def test_init_containers_sidecars_volumes_and_last_state(reader):
    redis = pods_by_name(reader)["redis-0"]
    assert [(c.name, c.kind) for c in redis.init_containers] == [("sysctl", "init"), ("exporter", "sidecar")]
    assert redis.init_containers[0].state_reason == "Completed" and redis.init_containers[1].state == "running"
    assert [c.name for c in redis.containers] == ["redis", "log-tail"]
    assert {v.name: (v.kind, v.medium) for v in redis.volumes} == {"tmp": ("emptyDir", "Memory"),
                                                                    "conf": ("configMap", None)}
    last = redis.containers[0].last_terminated
    assert (last.reason, last.exit_code, last.message) == ("OOMKilled", 137, "used 1Gi")
    assert (last.started_at.isoformat(), last.finished_at.isoformat()) == (
        "2024-07-09T08:10:00+00:00", "2024-07-09T09:20:00+00:00")
    reindex = next(p for p in reader.list_pods("batch") if p.name.startswith("reindex-28675260-"))
    assert [(v.name, v.size_limit) for v in reindex.volumes] == [("scratch", "50Gi")]


def test_summary_serves_each_pods_declared_figures(reader):
    summary = reader.node_fs_summary("node-2", pods=True)
    stats = {p.name.rsplit("-", 1)[0]: p for p in summary.pods}
    assert set(stats) == {"reindex-28675260", "fluent-bit", "redis"}  # succeeded and failed pods are gone
    reindex = stats["reindex-28675260"]
    gib = 1024**3
    assert reindex.memory_working_set_bytes == 20 * gib
    assert reindex.logs_used_bytes == 3 * gib and reindex.volumes_used_bytes == 12 * gib
    # the kubelet's sum: rootfs + logs + local volumes
    assert reindex.ephemeral_storage_used_bytes == 1024**2 + 3 * gib + 12 * gib
    redis = stats["redis"]
    by_container = {c.name: c for c in redis.containers}
    assert set(by_container) == {"redis", "log-tail", "exporter"}
    assert by_container["exporter"].memory_working_set_bytes == 20 * 1024**2
    assert by_container["log-tail"].logs_used_bytes == 5 * gib
    volumes = {v.name: v.used_bytes for v in redis.volumes}
    assert volumes == {"tmp": 100 * 1024**2, "conf": 4096}
    # a memory-backed emptyDir is not ephemeral storage; a configMap is
    assert redis.ephemeral_storage_used_bytes == redis.rootfs_used_bytes + redis.logs_used_bytes + 4096
    assert redis.memory_working_set_bytes == sum(c.memory_working_set_bytes for c in redis.containers)
    assert stats["fluent-bit"].logs_used_bytes == 2 * gib


def test_separate_imagefs_reported_apart_from_nodefs(reader):
    summary = reader.node_fs_summary("node-1")
    assert summary.separate_imagefs is True and summary.pods is None
    assert round(summary.nodefs.used_ratio, 2) == 0.95 and round(summary.imagefs.used_ratio, 2) == 0.40


def test_node_whose_kubelet_stopped_posting_status(api, reader):
    node = next(n for n in reader.list_nodes() if n.name == "node-gone")
    assert not node.ready
    assert {c.type: (c.status, c.reason) for c in node.conditions} == dict.fromkeys(("MemoryPressure", "DiskPressure", "PIDPressure", "Ready"), ("Unknown", "NodeStatusUnknown"))
    ready = node.condition("Ready")
    assert ready.message == "Kubelet stopped posting node status."
    assert ready.last_transition.isoformat() == "2024-07-09T09:30:00+00:00"
    assert ready.last_heartbeat < ready.last_transition
    assert {(t["key"], t["effect"]) for t in node.taints} == {
        ("node.kubernetes.io/unreachable", "NoSchedule"), ("node.kubernetes.io/unreachable", "NoExecute")}
    code, body = api.handle("GET", "/api/v1/nodes/node-gone/proxy/stats/summary")
    assert code == 503


def test_events_in_both_forms(api, reader):
    core = {e["reason"]: e for e in get(api, "/api/v1/events")["items"]}
    scheduler = core["FailedScheduling"]
    assert scheduler["firstTimestamp"] is None and "count" not in scheduler
    assert scheduler["eventTime"] == "2024-07-09T09:31:00.000000Z"
    assert scheduler["series"] == {"count": 12, "lastObservedTime": "2024-07-09T09:45:00.000000Z"}
    new = {e["reason"]: e for e in get(api, "/apis/events.k8s.io/v1/events")["items"]}
    assert new["FailedScheduling"]["regarding"]["name"] == "redis-0"
    assert new["FailedScheduling"]["reportingController"] == "default-scheduler"
    assert new["FreeDiskSpaceFailed"]["deprecatedCount"] == 7 and new["FreeDiskSpaceFailed"]["eventTime"] is None
    assert new["FreeDiskSpaceFailed"]["note"] == core["FreeDiskSpaceFailed"]["message"]
    selected = get(api, "/apis/events.k8s.io/v1/namespaces/cache/events?fieldSelector=regarding.name%3Dredis-0")
    assert [e["reason"] for e in selected["items"]] == ["FailedScheduling"]
    event = next(e for e in reader.list_events("cache") if e.reason == "FailedScheduling")
    assert event.count == 12 and event.source == "default-scheduler"
    assert (event.first_at.isoformat(), event.last_at.isoformat()) == (
        "2024-07-09T09:31:00+00:00", "2024-07-09T09:45:00+00:00")


@pytest.mark.parametrize(("change", "message"), [
    (("priority_class: low", "priority_class: missing"), "no PriorityClass with name missing"),
    (("containers: {exporter:", "containers: {nope:"), "stats name containers it does not have"),
    (("volumes: {tmp: 100Mi", "volumes: {nope: 100Mi"), "stats name volumes it does not have"),
    (("mounts: {scratch: /scratch}", "mounts: {other: /scratch}"), "mount volumes that are not declared"),
    (("empty_dir: {medium: Memory}", "empty_dir: {medium: Memory}, secret: s"), "exactly one of"),
    (('message: "0/4 nodes are available"}', 'message: "0/4 nodes are available"}\n'), None),
])
def test_bad_scenarios_are_refused_with_the_field(tmp_path, change, message):
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent(SCENARIO).replace(*change))
    if message is None:  # control: the unchanged shape loads
        load_scenario(path)
        return
    with pytest.raises(ScenarioError, match=message):
        load_scenario(path)


def test_an_event_template_with_stray_braces_names_the_fix(tmp_path):
    path = tmp_path / "braces.yaml"
    text = textwrap.dedent(SCENARIO).replace(
        "stats: {memory: 60Mi, logs: 2Gi}}",
        'stats: {memory: 60Mi, logs: 2Gi}, events: [{reason: X, message: "taint {node.kubernetes.io/x: }"}]}')
    path.write_text(text)
    with pytest.raises(ScenarioError, match=r"literal braces"):
        load_scenario(path)
