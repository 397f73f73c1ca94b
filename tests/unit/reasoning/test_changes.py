"""What a revision changed against the previous one, in the words the rollback decision quotes."""

from bot.checks.revision_health import changes


def template(**container):
    return {"spec": {"containers": [{"name": "app", "image": "r/app:1", **container}]}}


def test_each_aspect_is_named_with_what_it_is_now():
    before = template(args=["--queue", "a"], env=[{"name": "A", "value": "1"}],
                      envFrom=[{"configMapRef": {"name": "cfg-v1"}}], resources={"limits": {"memory": "1Gi"}})
    after = template(image="r/app:2", args=["--config", "/etc/app.yaml"], env=[{"name": "A", "value": "2"}],
                     envFrom=[{"configMapRef": {"name": "cfg-v2"}}], resources={"limits": {"memory": "256Mi"}},
                     readinessProbe={"httpGet": {"path": "/ready"}})
    assert [(c["what"], c["detail"]) for c in changes(before, after)] == [
        ("command", "args --config /etc/app.yaml"),
        ("env", "env A, envFrom configMap cfg-v1 -> cfg-v2"),
        ("resources", "limits.memory 1Gi -> 256Mi"),
        ("probes", "readinessProbe unset -> httpGet /ready"),
        ("image", "image app:1 -> app:2"),
    ]


def test_containers_and_volumes_added_or_removed_are_changes_too():
    before = {"spec": {"containers": [{"name": "app", "image": "r/app:1"}, {"name": "proxy", "image": "r/p:1"}]}}
    after = {"spec": {"containers": [{"name": "app", "image": "r/app:1"}], "initContainers": [{"name": "migrate", "image": "r/m:1"}],
                      "volumes": [{"name": "scratch", "emptyDir": {}}]}}
    found = [(c["what"], c["detail"]) for c in changes(before, after)]
    assert ("containers", "container migrate added") in found and ("containers", "container proxy removed") in found
    assert ("volumes", "pod volumes changed") in found


def test_the_same_template_changed_nothing():
    same = template(args=["--x"])
    assert changes(same, same) == []


def test_a_probe_that_gives_up_sooner_names_its_timing_and_a_secret_variable_its_key():
    probe = {"httpGet": {"path": "/healthz", "port": 8080}, "timeoutSeconds": 5, "periodSeconds": 10}
    before = template(livenessProbe=probe, env=[{"name": "A", "value": "1"}])
    after = template(livenessProbe={**probe, "timeoutSeconds": 1, "failureThreshold": 1},
                     env=[{"name": "A", "value": "1"},
                          {"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "keys", "key": "v2"}}}])
    assert [(c["what"], c["detail"]) for c in changes(before, after)] == [
        ("env", "env KEY (from secret keys key v2)"),
        ("probes", "livenessProbe timeoutSeconds 5 -> 1, failureThreshold 3 -> 1"),
    ]


def test_a_probe_moved_and_tightened_says_both():
    before = template(readinessProbe={"httpGet": {"path": "/a"}})
    after = template(readinessProbe={"httpGet": {"path": "/b"}, "periodSeconds": 2})
    assert changes(before, after)[0]["detail"] == "readinessProbe httpGet /a -> httpGet /b, periodSeconds 10 -> 2"
