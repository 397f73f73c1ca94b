from dataclasses import replace

from bot.checks import rollout
from bot.domain import Severity


def by_rule(findings):
    return {f.rule: f for f in findings}


def test_size_regression_against_previous_revision(meltdown, ctx_of):
    found = by_rule(rollout.run(ctx_of(meltdown), rollout.RolloutParams()))
    reg = found["image-size-regression"]
    assert reg.severity is Severity.CRITICAL
    assert reg.evidence["current_revision"] == 7 and reg.evidence["previous_revision"] == 6
    assert reg.evidence["current_size_bytes"] == 4_509_715_660
    assert reg.evidence["previous_size_bytes"] == 230_686_720
    assert reg.evidence["ratio"] == 19.55
    assert "4.2 GB, 19.5× revision 6's 220 MB" in reg.title


def test_rollback_candidate_is_newest_healthy_with_exact_command_and_patch(meltdown, ctx_of):
    ctx = ctx_of(meltdown)
    cand = by_rule(rollout.run(ctx, rollout.RolloutParams()))["rollback-candidate"]
    assert cand.severity is Severity.HIGH
    assert cand.evidence["revision"] == 6
    assert cand.evidence["undo_command"] == (
        "kubectl rollout undo deployment/user-profile-service -n prod --to-revision=6"
    )
    template_op, annotations_op = cand.evidence["patch"]
    assert template_op["op"] == "replace" and template_op["path"] == "/spec/template"
    assert "pod-template-hash" not in template_op["value"]["metadata"]["labels"]
    assert template_op["value"]["spec"]["containers"][0]["image"].endswith(":v6")
    # kubectl keeps the Deployment's own revision and last-applied annotations, takes the rest from the RS.
    assert annotations_op == {
        "op": "replace",
        "path": "/metadata/annotations",
        "value": {
            "deployment.kubernetes.io/revision": "7",
            "kubectl.kubernetes.io/last-applied-configuration": "{}",
            "team": "profile",
        },
    }
    ranked = rollout.candidates(ctx)
    assert [(c.revision, c.healthy, c.recommended) for c in ranked] == [(6, True, True), (5, True, False)]
    assert ranked[0].size_bytes == 230_686_720
    assert ranked[0].live_until is not None and ranked[0].live_until.isoformat().startswith("2024-05-14T02:30")


def test_revision_with_failure_events_while_live_is_not_recommended(meltdown, ctx_of):
    from tests.doubles.cluster_reader import event

    rs6 = next(rs for rs in meltdown.replicasets if rs.revision == 6)
    meltdown.events.append(event(f"{rs6.name}-x", "BackOff", "Back-off restarting failed container", count=30,
                                 at=rs6.created_at.replace(hour=3)))
    ranked = rollout.candidates(ctx_of(meltdown))
    assert [(c.revision, c.healthy, c.recommended) for c in ranked] == [(5, True, True), (6, False, False)]


def test_paused_deployment_is_noted(meltdown, ctx_of):
    meltdown.deployments[0] = replace(meltdown.deployments[0], paused=True)
    cand = by_rule(rollout.run(ctx_of(meltdown), rollout.RolloutParams()))["rollback-candidate"]
    assert "paused" in cand.evidence["notes"][0]


def test_single_revision_gives_nothing(healthy, ctx_of):
    assert rollout.run(ctx_of(healthy), rollout.RolloutParams()) == []


def test_same_size_is_no_regression(meltdown, ctx_of):
    for n in meltdown.nodes:
        object.__setattr__(n, "images", tuple(replace(i, size_bytes=230_686_720) for i in n.images))
    found = by_rule(rollout.run(ctx_of(meltdown), rollout.RolloutParams()))
    assert "image-size-regression" not in found
    # Revision 7's pods fail only through the registry (503) and evictions: nothing of its own. (Before
    # issue 9 any ready < desired made it "unhealthy" and this finding high.)
    cand = found["rollback-candidate"]
    assert cand.severity is Severity.INFO
    assert cand.evidence["current_healthy"] is True
    implication = cand.evidence["implication"]
    assert implication["own_failures"] == {}
    assert implication["failures"] == {"registry-error": 4, "evicted": 3, "node-not-ready": 3}


def _without_node_image_sizes(scenario):
    for n in scenario.nodes:
        object.__setattr__(n, "images", ())


def test_rollback_title_says_nothing_of_a_size_no_reader_could_read(meltdown, ctx_of):
    _without_node_image_sizes(meltdown)
    cand = by_rule(rollout.run(ctx_of(meltdown), rollout.RolloutParams()))["rollback-candidate"]
    assert cand.evidence["revision"] == 6 and cand.evidence["size_bytes"] is None
    assert "size" not in cand.title and ":v6, healthy, live " in cand.title


def test_rollback_title_says_the_size_is_unknown_when_the_read_failed(meltdown, ctx_of):
    from tests.doubles.images import FakeImageReader

    _without_node_image_sizes(meltdown)
    reader = FakeImageReader()  # holds no image: every manifest read fails with ImageNotFound
    cand = by_rule(rollout.run(ctx_of(meltdown, images=reader), rollout.RolloutParams()))["rollback-candidate"]
    assert cand.evidence["revision"] == 6 and cand.evidence["size_bytes"] is None
    assert ":v6, unknown size, healthy" in cand.title


def test_rollback_title_gives_the_size_the_reader_read(meltdown, ctx_of):
    from tests.doubles.images import FakeImageReader, entries

    _without_node_image_sizes(meltdown)
    image = next(rs for rs in meltdown.replicasets if rs.revision == 6).containers[0].image
    reader = FakeImageReader()
    reader.add(image, [entries([("app/bin", 5_000_000)])])
    cand = by_rule(rollout.run(ctx_of(meltdown, images=reader), rollout.RolloutParams()))["rollback-candidate"]
    assert ":v6, 4.8 MB, healthy" in cand.title
