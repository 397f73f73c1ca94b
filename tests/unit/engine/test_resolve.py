from dataclasses import replace

import pytest

from bot.catalog import CatalogError, load_catalog
from bot.engine.resolve import AmbiguousService, UnknownService, resolve
from bot.ports import ClusterForbidden


def test_catalog_first(meltdown, tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM python:3.12\n")
    path = tmp_path / "catalog.yaml"
    path.write_text(
        "services:\n  profiles:\n    context: prod-eu\n    namespace: prod\n"
        "    workload: deployment/user-profile-service\n    container: app\n    pagerduty_service_id: PF9KMXH\n"
        "    slack_channel: '#profiles'\n    dockerfile: Dockerfile\n"
    )
    catalog = load_catalog(path)
    res = resolve("profiles", cluster=meltdown, catalog=catalog)
    assert res.via == "catalog"
    # The reader (context "fake") is what is read; the CLI picks the catalog's context when building it.
    assert (res.target.context, res.target.namespace, res.target.name) == ("fake", "prod", "user-profile-service")
    assert res.entry.dockerfile == (tmp_path / "Dockerfile").resolve()
    assert catalog.by_pagerduty_service("PF9KMXH").name == "profiles"
    assert meltdown.calls == {}  # no cluster call needed


def test_catalog_errors_name_file_and_field(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("services:\n  x:\n    namespace: prod\n    pager: 1\n")
    with pytest.raises(CatalogError, match=r"c\.yaml: services\.x\.pager: Extra inputs are not permitted"):
        load_catalog(path)


def test_catalog_yaml_error_is_one_line_with_the_position(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("services:\n  x: [\n")
    with pytest.raises(CatalogError) as err:
        load_catalog(path)
    assert str(err.value).startswith(f"{path}: not valid YAML at line 3, column 1: ")
    assert "\n" not in str(err.value)


def test_catalog_that_is_not_a_mapping_names_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(CatalogError, match=r"c\.yaml: expected a mapping with a 'services' key"):
        load_catalog(path)


def test_deployment_name_then_labels(meltdown):
    assert resolve("user-profile-service", cluster=meltdown).via == "deployment name"
    dep = meltdown.deployments[0]
    meltdown.deployments[0] = replace(dep, name="upsvc-v2", labels={"app.kubernetes.io/name": "profile-api"})
    res = resolve("profile-api", cluster=meltdown)
    assert res.via == "label app.kubernetes.io/name" and res.target.name == "upsvc-v2"
    res = resolve("user-profile-service", cluster=meltdown)  # still in the selector's app label
    assert res.via == "label app"


def test_unknown_service_gets_closest_names(meltdown):
    with pytest.raises(UnknownService) as err:
        resolve("user-profil-service", cluster=meltdown)
    assert err.value.suggestions == ["user-profile-service"]
    assert "Did you mean: user-profile-service?" in str(err.value)
    with pytest.raises(UnknownService) as err:
        resolve("zzz", cluster=meltdown)
    assert err.value.suggestions == []


def test_several_matches_ask_to_choose(meltdown):
    meltdown.deployments.append(replace(meltdown.deployments[0], namespace="staging"))
    with pytest.raises(AmbiguousService) as err:
        resolve("user-profile-service", cluster=meltdown)
    assert "prod/user-profile-service, staging/user-profile-service" in str(err.value)
    assert resolve("user-profile-service", cluster=meltdown, namespace="staging").target.namespace == "staging"


def test_cluster_wide_list_forbidden_searches_readable_namespaces(meltdown):
    meltdown.deployments.append(replace(meltdown.deployments[0], name="other", namespace="secret"))
    meltdown.forbidden |= {"list_deployments:*", "list_deployments:secret"}
    res = resolve("user-profile-service", cluster=meltdown)
    assert res.target.namespace == "prod"
    with pytest.raises(UnknownService, match="1 readable namespaces of 2"):
        resolve("other", cluster=meltdown)


def test_nothing_readable_is_forbidden(meltdown):
    meltdown.forbidden |= {"list_deployments:*", "list_deployments:prod"}
    with pytest.raises(ClusterForbidden):
        resolve("user-profile-service", cluster=meltdown)


def test_catalog_pointing_at_a_missing_deployment_says_so(meltdown, tmp_path):
    from bot.engine.diagnose import diagnose
    from bot.engine.playbook import load_playbooks
    from bot.engine.resolve import WorkloadNotFound
    from bot.settings import packaged_dir

    path = tmp_path / "catalog.yaml"
    path.write_text("services:\n  profiles:\n    namespace: prod\n    workload: deployment/profiles-v2\n")
    playbook = load_playbooks(packaged_dir("playbooks"))["diagnose"]
    with pytest.raises(WorkloadNotFound, match="'profiles' resolves through the catalog to Deployment prod/profiles-v2"):
        diagnose("profiles", cluster=meltdown, playbook=playbook, catalog=load_catalog(path))


def _controller(kind, name, namespace="data", labels=None):
    from bot.cluster.snapshots import WorkloadSnapshot

    labels = labels if labels is not None else {"app.kubernetes.io/name": name}
    return WorkloadSnapshot(kind=kind, name=name, namespace=namespace, labels=labels, selector=dict(labels))


def test_a_name_without_a_deployment_is_a_statefulset_then_a_daemonset(meltdown):
    meltdown.statefulsets.append(_controller("StatefulSet", "kafka"))
    meltdown.daemonsets.append(_controller("DaemonSet", "node-exporter", namespace="monitoring"))
    res = resolve("kafka", cluster=meltdown)
    assert (res.via, res.target.kind, res.target.namespace, res.target.name) == (
        "statefulset name", "StatefulSet", "data", "kafka")
    res = resolve("node-exporter", cluster=meltdown)
    assert (res.via, res.target.kind, res.target.name) == ("daemonset name", "DaemonSet", "node-exporter")


def test_a_deployment_of_the_name_is_found_without_listing_the_other_kinds(meltdown):
    meltdown.statefulsets.append(_controller("StatefulSet", "user-profile-service", namespace="prod"))
    res = resolve("user-profile-service", cluster=meltdown)
    assert res.target.kind == "Deployment"
    assert meltdown.calls["list_statefulsets"] == 0 and meltdown.calls["list_daemonsets"] == 0


def test_a_name_beats_a_label_and_labels_prefer_deployments(meltdown):
    dep = meltdown.deployments[0]
    meltdown.deployments[0] = replace(dep, name="kafka-exporter", labels={"app": "kafka"})
    meltdown.statefulsets.append(_controller("StatefulSet", "kafka"))
    assert resolve("kafka", cluster=meltdown).target.kind == "StatefulSet"
    meltdown.statefulsets[0] = _controller("StatefulSet", "broker", labels={"app": "queue"})
    meltdown.daemonsets.append(_controller("DaemonSet", "queue-agent", labels={"app": "queue"}))
    res = resolve("queue", cluster=meltdown)
    assert (res.via, res.target.kind, res.target.name) == ("label app", "StatefulSet", "broker")


def test_statefulsets_that_cannot_be_listed_are_a_gap_the_error_names(meltdown):
    meltdown.forbidden |= {"list_statefulsets"}
    meltdown.daemonsets.append(_controller("DaemonSet", "fluent-bit"))
    assert resolve("fluent-bit", cluster=meltdown).target.kind == "DaemonSet"
    with pytest.raises(UnknownService, match=r"\(all namespaces; statefulsets forbidden\)"):
        resolve("kafka", cluster=meltdown)


def test_catalog_names_a_statefulset_or_a_daemonset(meltdown, tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text("services:\n  kafka:\n    namespace: data\n    workload: statefulset/kafka\n"
                    "  agent:\n    namespace: ops\n    workload: ds/node-agent\n")
    catalog = load_catalog(path)
    assert resolve("kafka", cluster=meltdown, catalog=catalog).target.kind == "StatefulSet"
    assert resolve("agent", cluster=meltdown, catalog=catalog).target.name == "node-agent"
    path.write_text("services:\n  x:\n    namespace: data\n    workload: replicaset/x\n")
    with pytest.raises(CatalogError, match="deployment/<name>, statefulset/<name> or daemonset/<name>"):
        load_catalog(path)


@pytest.mark.parametrize("kind", ["StatefulSet", "DaemonSet"])
def test_a_name_in_a_namespace_is_read_by_a_get_without_listing_the_namespace(meltdown, kind):
    from bot.engine.diagnose import diagnose
    from bot.engine.playbook import load_playbooks
    from bot.settings import packaged_dir

    playbook = load_playbooks(packaged_dir("playbooks"))["diagnose"]
    many = [_controller(kind, f"other-{i}") for i in range(300)] + [_controller(kind, "kafka")]
    (meltdown.statefulsets if kind == "StatefulSet" else meltdown.daemonsets).extend(many)
    res = resolve("kafka", cluster=meltdown, namespace="data")
    assert (res.via, res.target.kind, res.target.name) == (f"{kind.lower()} name", kind, "kafka")
    d = diagnose("kafka", cluster=meltdown, playbook=playbook, namespace="data")
    assert d.target.kind == kind
    listed = {m: n for m, n in meltdown.calls.items() if m in ("list_deployments", "list_statefulsets", "list_daemonsets")}
    assert listed == {}
    assert meltdown.calls[f"get_{kind.lower()}"] >= 2  # resolution, then the run's existence check


def test_a_name_in_no_kind_of_the_namespace_falls_back_to_the_lists_for_its_labels(meltdown):
    meltdown.statefulsets.append(_controller("StatefulSet", "broker", labels={"app": "queue"}))
    res = resolve("queue", cluster=meltdown, namespace="data")
    assert (res.via, res.target.name) == ("label app", "broker")
    assert meltdown.calls["get_statefulset"] == 1 and meltdown.calls["list_statefulsets"] == 1


def test_a_kind_that_may_be_listed_but_not_read_by_name_is_still_found(meltdown):
    meltdown.forbidden |= {"get_statefulset"}
    meltdown.statefulsets.append(_controller("StatefulSet", "kafka"))
    assert resolve("kafka", cluster=meltdown, namespace="data").target.kind == "StatefulSet"


def test_a_workload_that_cannot_be_read_by_name_is_forbidden_with_the_verb(meltdown):
    from bot.checks.facts import get_workload

    meltdown.forbidden |= {"get_daemonset"}
    with pytest.raises(ClusterForbidden) as info:
        get_workload(meltdown, "DaemonSet", "data", "fluent-bit")
    assert (info.value.verb, info.value.resource) == ("get", "daemonsets")
    assert meltdown.calls["list_daemonsets"] == 0
