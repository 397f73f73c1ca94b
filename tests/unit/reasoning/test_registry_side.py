"""A pull the registry refuses (401/403) is the registry's or the shared credentials' failure, not the
revision's, unless the revision itself changed where the image comes from or with which secret."""

import pytest

from bot.checks.pulls import registry_auth_kind
from bot.checks.revision_health import changes
from tests.unit.reasoning.test_rollback_decision import assert_consistent, nodes
from tests.unit.reasoning.world import World, ago

UNAUTHORIZED = ('Failed to pull image "{image}": failed to resolve reference "{image}": pulling from host '
                '{host} failed with status code [manifests 2]: 401 Unauthorized')


@pytest.mark.parametrize(("message", "kind"), [
    ("pulling from host r.io failed with status code [manifests 1]: 401 Unauthorized", "401 Unauthorized"),
    ("failed to authorize: failed to fetch oauth token: unexpected status: 403 Forbidden", "403 Forbidden"),
    ("Error response from daemon: Get https://r.io/v2/: no basic auth credentials", "401 Unauthorized"),
    ("unauthorized: authentication required", "401 Unauthorized"),
    # Docker Hub's answer for a repository that does not exist: most often a typo, the image's own fault.
    ("pull access denied, repository does not exist or may require authorization: server message: "
     "insufficient_scope: authorization failed", None),
    ('failed to resolve reference "r.io/app:2.5.O": r.io/app:2.5.O: not found', None),
    ("received unexpected HTTP status: 503 Service Unavailable", None),
])
def test_which_pull_errors_are_refused_credentials(message, kind):
    assert registry_auth_kind(message) == kind


def _refused(w, rs, names, image, host="registry.internal:5000"):
    for i in range(2):
        pod = w.pod(rs, f"p{i}", names[i % 2], created=ago(minutes=5), phase="Pending", waiting="ImagePullBackOff",
                    message=f'Back-off pulling image "{image}"')
        w.warn(pod, "Failed", UNAUTHORIZED.format(image=image, host=host), at=ago(minutes=4), count=5)


def test_a_401_right_after_a_rollout_that_kept_the_registry_and_the_secret_is_not_the_revisions():
    w = World(name="search")
    names = nodes(w, 2)
    w.revision(8, ago(days=9), image="registry.internal:5000/search:8")
    rs = w.revision(9, ago(minutes=10), image="registry.internal:5000/search:9", current=True)
    _refused(w, rs, names, "registry.internal:5000/search:9")
    d = w.diagnose()
    assert_consistent(d)
    assert not d.rollback.recommended
    assert "its pods fail only on the registry's side (2 refused by the registry)" in d.rollback.reason


def test_a_401_from_the_registry_the_revision_moved_the_image_to_is_rolled_back():
    w = World(name="search")
    names = nodes(w, 2)
    w.revision(8, ago(days=9), image="registry.internal:5000/search:8")
    rs = w.revision(9, ago(minutes=10), image="ghcr.io/acme/search:9", current=True)
    _refused(w, rs, names, "ghcr.io/acme/search:9", host="ghcr.io")
    d = w.diagnose()
    assert_consistent(d)
    assert d.rollback.recommended and d.rollback.revision == 8
    assert "image repository registry.internal:5000/search -> ghcr.io/acme/search" in d.rollback.reason


def test_a_401_after_a_rollout_that_changed_the_pull_secret_is_rolled_back():
    w = World(name="search")
    names = nodes(w, 2)
    w.revision(8, ago(days=9), image="registry.internal:5000/search:8", pull_secrets=("regcred",))
    rs = w.revision(9, ago(minutes=10), image="registry.internal:5000/search:9", current=True,
                    pull_secrets=("regcred-v2",))
    _refused(w, rs, names, "registry.internal:5000/search:9")
    d = w.diagnose()
    assert_consistent(d)
    assert d.rollback.recommended and d.rollback.revision == 8
    assert "imagePullSecrets regcred -> regcred-v2" in d.rollback.reason


def test_the_changes_name_a_new_repository_and_a_new_service_account():
    before = {"spec": {"containers": [{"name": "app", "image": "r.io/team/app:1"}]}}
    after = {"spec": {"serviceAccountName": "puller",
                      "containers": [{"name": "app", "image": "mirror.r.io/team/app:2"}]}}
    assert [c["detail"] for c in changes(before, after)] == [
        "image app:1 -> app:2", "image repository r.io/team/app -> mirror.r.io/team/app",
        "serviceAccountName default -> puller"]
