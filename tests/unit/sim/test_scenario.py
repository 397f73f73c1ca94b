import textwrap
from datetime import datetime, UTC

import pytest

from bot.sim.scenario import ScenarioError, load_scenario, shipped_scenarios

MINIMAL = """
name: tiny
now: 2024-05-14T03:00:00Z
nodes:
  - name: node-{i}
    count: 2
    created: 2024-01-01T00:00:00Z
deployments:
  - name: web
    namespace: shop
    created: 2024-01-01T00:00:00Z
    labels: {app: web}
    replicas: 2
    revisions:
      - {revision: 1, image: "reg:5000/web:1", created: 2024-05-01T00:00:00Z, replicas: 2}
    pods:
      - {revision: 1, count: 2, nodes: [node-1, node-2], created: 2024-05-01T00:00:05Z}
"""


def write(tmp_path, text, name="s.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_shipped_scenarios_are_listed():
    assert "registry-meltdown" in shipped_scenarios()


def test_minimal_file_expands_shorthand(tmp_path):
    scenario = load_scenario(write(tmp_path, MINIMAL))
    assert [n["metadata"]["name"] for n in scenario.nodes] == ["node-1", "node-2"]
    assert len(scenario.pods) == 2
    assert {p["spec"]["nodeName"] for p in scenario.pods} == {"node-1", "node-2"}
    assert scenario.replicasets[0]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    assert set(scenario.summaries) == {"node-1", "node-2"}
    assert {n["metadata"]["name"] for n in scenario.namespaces} >= {"shop", "default"}
    assert scenario.now == datetime(2024, 5, 14, 3, tzinfo=UTC)


def test_expansion_is_deterministic(tmp_path):
    path = write(tmp_path, MINIMAL)
    assert load_scenario(path).pods == load_scenario(path).pods


def test_validation_error_names_file_and_field(tmp_path):
    path = write(tmp_path, MINIMAL.replace("replicas: 2\n    revisions", "replicas: two\n    revisions"))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(path) in str(info.value)
    assert "deployments.0.replicas" in str(info.value)


def test_unknown_field_is_refused(tmp_path):
    path = write(tmp_path, MINIMAL.replace("name: tiny", "name: tiny\nnodez: []"))
    with pytest.raises(ScenarioError, match="nodez"):
        load_scenario(path)


def test_naive_timestamp_is_refused(tmp_path):
    path = write(tmp_path, MINIMAL.replace("now: 2024-05-14T03:00:00Z", "now: 2024-05-14T03:00:00"))
    with pytest.raises(ScenarioError, match="now: .*timezone"):
        load_scenario(path)


def test_pod_on_unknown_node_is_refused(tmp_path):
    path = write(tmp_path, MINIMAL.replace("nodes: [node-1, node-2]", "nodes: [node-9]"))
    with pytest.raises(ScenarioError, match="unknown node 'node-9'"):
        load_scenario(path)


def test_yaml_error_names_file(tmp_path):
    path = write(tmp_path, "name: [unclosed\n")
    with pytest.raises(ScenarioError, match=r"s\.yaml: not valid YAML"):
        load_scenario(path)


def test_unknown_name_lists_the_shipped_ones():
    with pytest.raises(ScenarioError, match="registry-meltdown"):
        load_scenario("no-such-scenario")


def test_extends_overrides_top_level_keys(tmp_path):
    write(tmp_path, MINIMAL, "base.yaml")
    child = write(tmp_path, """
        extends: base.yaml
        name: child
        rbac:
          forbidden: [{verb: get, resource: nodes/proxy}]
    """, "child.yaml")
    scenario = load_scenario(child)
    assert scenario.name == "child"
    assert len(scenario.pods) == 2
    assert scenario.is_forbidden("get", "nodes/proxy", None)


def test_raw_objects_are_served_verbatim(tmp_path):
    path = write(tmp_path, MINIMAL + """
raw:
  - kind: Pod
    metadata: {name: hand-written, namespace: shop, labels: {app: other}}
    spec: {containers: [{name: c, image: busybox}]}
    status: {phase: Running}
""")
    scenario = load_scenario(path)
    raw = [p for p in scenario.pods if p["metadata"]["name"] == "hand-written"]
    assert raw and raw[0]["apiVersion"] == "v1"


def test_raw_object_without_name_is_refused(tmp_path):
    path = write(tmp_path, MINIMAL + """
raw:
  - kind: Pod
    metadata: {namespace: shop}
""")
    with pytest.raises(ScenarioError, match="raw.0: a Pod needs metadata.name"):
        load_scenario(path)


def test_minimal_raw_pod_on_a_node_is_served(tmp_path):
    path = write(tmp_path, MINIMAL + """
raw:
  - kind: Pod
    metadata: {name: bare, namespace: shop}
    spec: {nodeName: node-1}
    status: {phase: Running}
""")
    scenario = load_scenario(path)
    assert any(p["podRef"]["name"] == "bare" for p in scenario.summaries["node-1"]["pods"])


def test_a_node_carries_the_taints_it_declares_before_those_its_conditions_add(tmp_path):
    text = MINIMAL.replace("    count: 2\n", "    count: 2\n    unschedulable: true\n"
                                           "    taints: [{key: nvidia.com/gpu, value: present}, {key: spot, effect: NoExecute}]\n", 1)
    scenario = load_scenario(write(tmp_path, text))
    assert scenario.nodes[0]["spec"]["taints"][:3] == [
        {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"},
        {"key": "spot", "effect": "NoExecute"},
        {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule",
         "timeAdded": scenario.nodes[0]["spec"]["taints"][2]["timeAdded"]},
    ]


def test_a_revision_that_changes_a_probe_serves_the_new_probe(tmp_path):
    text = MINIMAL.replace("    replicas: 2\n", "    replicas: 2\n    container: {readiness: {http: /healthz}}\n", 1).replace(
        "      - {revision: 1, image: \"reg:5000/web:1\", created: 2024-05-01T00:00:00Z, replicas: 2}\n",
        "      - {revision: 1, image: \"reg:5000/web:1\", created: 2024-04-01T00:00:00Z}\n"
        "      - {revision: 2, image: \"reg:5000/web:1\", created: 2024-05-01T00:00:00Z, replicas: 2,"
        " container: {readiness: {http: /health/ready, port: 9090}}}\n").replace("{revision: 1, count: 2", "{revision: 2, count: 2")
    scenario = load_scenario(write(tmp_path, text))
    probes = {rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]:
              rs["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"] for rs in scenario.replicasets}
    assert probes == {"1": {"path": "/healthz", "port": 8080, "scheme": "HTTP"},
                      "2": {"path": "/health/ready", "port": 9090, "scheme": "HTTP"}}
