"""An API server that stalls on one of the webhook's cluster reads: the review is allowed with a warning
naming the call it waited for, and audited as fail-open (the webhook's failurePolicy is Ignore, but the
API server would wait its whole timeoutSeconds for an answer that is not coming)."""

from __future__ import annotations

import pytest

from tests.integration.admission.harness import NAME, NAMESPACE, Webhook, running_webhook
from tests.integration.admission.test_webhook import response_of

# Each review waits out the gate's deadline (2 s) for the stalled call.
pytestmark = pytest.mark.slow

FAIL_OPEN = "coroner gate could not judge this change and allowed it (fail-open)"


def assert_fail_open_naming(hook: Webhook, sent: dict, waited_for: str) -> None:
    response = response_of(hook.post(sent), sent["request"]["uid"])

    assert hook.stalled, "the proxy held no request: the test did not stall the API server"
    assert response["allowed"] is True and "status" not in response
    (warning,) = response["warnings"]
    assert warning.startswith(FAIL_OPEN), warning
    assert f"no answer from {waited_for} before the gate's deadline" in warning
    assert "registry" not in warning and "autopsy cache" not in warning  # the cluster alone is named
    (record,) = hook.audit()
    assert (record.action, record.target) == ("admission.allowed", f"Deployment {NAMESPACE}/{NAME}")
    assert record.details["fail_open"] is True
    assert any(waited_for in why for why in record.details["undecided"]), record.details


@pytest.mark.parametrize(("stall", "waited_for"), [
    # The namespace's labels (its gate mode), read first: without the mode, nothing is judged.
    (r"^/api/v1/namespaces\?", f"the Kubernetes API (labels of namespace {NAMESPACE})"),
    # The node list, read before the images: it says which platform's image of an index to judge.
    (r"^/api/v1/nodes\?", "the Kubernetes API (list nodes)"),
], ids=["namespace-labels", "nodes"])
def test_a_read_the_images_wait_for_fails_open_naming_it(tmp_path, images, certificates, stall, waited_for):
    v1, v2 = images.ref("checkout", "v1"), images.ref("checkout", "v2")  # a grown image: denied when judged
    with running_webhook(tmp_path, images, certificates, database_url=f"sqlite:///{tmp_path / 'c.db'}",
                         stall=stall) as hook:
        assert_fail_open_naming(hook, hook.change(v1, v2), waited_for)


def test_a_stalled_hpa_read_fails_open_but_a_grown_image_is_still_denied(tmp_path, images, certificates):
    """The HPA is read while the images are (from the cache here): a change the images alone pass is
    allowed with a warning naming the HPA list; the growth rule needs no cluster, so a grown image's
    denial stands and says what it could not judge."""
    v1, v2, v3 = (images.ref("checkout", tag) for tag in ("v1", "v2", "v3"))
    hpa = f"the Kubernetes API (list horizontalpodautoscalers of {NAMESPACE})"
    with running_webhook(tmp_path, images, certificates, database_url=f"sqlite:///{tmp_path / 'c.db'}",
                         stall=r"/horizontalpodautoscalers") as hook:
        hook.warm(v1, v3)
        hook.warm(v1, v2, new=1)  # v1 is cached already
        assert_fail_open_naming(hook, hook.change(v1, v3), hpa)

        sent = hook.change(v1, v2)
        response = response_of(hook.post(sent), sent["request"]["uid"])

        assert response["allowed"] is False
        message = response["status"]["message"]
        assert "image-growth" in message
        assert (f"Not judged: {v2}: pull pressure not assessed: no answer from {hpa} before the gate's "
                "deadline") in message
        denied = [r for r in hook.audit() if r.action == "admission.denied"]
        assert len(denied) == 1 and "fail_open" not in denied[0].details
