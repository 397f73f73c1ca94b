"""The API server's refusals of the rollback patch (`Status` bodies) and a patch left unanswered become
one-line `RollbackError`s."""

import json
import socket

import pytest
import urllib3
from kubernetes.client.exceptions import ApiException

from bot.cluster.kubernetes_reader import send
from bot.cluster.kubernetes_rollbacker import patch_error
from bot.ports import ClusterReadError, RollbackConflict, RollbackError, RollbackForbidden, RollbackNotFound

WHAT = "roll back prod/web"


def refusal(code, reason, message, details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}
    if details is not None:
        body["details"] = details
    return ApiException(status=code, reason=reason, body=json.dumps(body))


@pytest.mark.parametrize(("exc", "kind", "message"), [
    (refusal(403, "Forbidden", 'deployments.apps "web" is forbidden: User "x" cannot patch resource "deployments"'),
     RollbackForbidden, "roll back prod/web: forbidden: needs patch on deployments in prod "
                        "(apply deploy/kubernetes/opt-in/rollback-role.yaml to that namespace)"),
    (refusal(404, "NotFound", 'deployments.apps "web" not found'), RollbackNotFound,
     'roll back prod/web: the Deployment is gone (deployments.apps "web" not found)'),
    (refusal(409, "Conflict", 'Operation cannot be fulfilled on deployments.apps "web": the object has been modified; '
                              "please apply your changes to the latest version and try again"), RollbackConflict,
     'roll back prod/web: the Deployment changed while it was patched (Operation cannot be fulfilled on '
     'deployments.apps "web": the object has been modified; please apply your changes to the latest version and try '
     'again); try again'),
    (refusal(422, "Invalid", "the server rejected our request due to an error in our request",
             {"causes": [{"reason": "UnexpectedServerResponse", "message": "testing value /x failed: test failed"}]}),
     RollbackError, "roll back prod/web: the API server refused the patch: HTTP 422: the server rejected our request "
                    "due to an error in our request: testing value /x failed: test failed"),
    (ApiException(status=500, reason="Internal Server Error", body="<html>oops</html>"), RollbackError,
     "roll back prod/web: the API server refused the patch: HTTP 500: Internal Server Error"),
])
def test_refusals_become_one_line_errors(exc, kind, message):
    error = patch_error(exc, what=WHAT, namespace="prod")
    assert type(error) is kind
    assert str(error) == message and "\n" not in str(error)


def test_a_write_that_got_no_answer_may_have_been_applied():
    """A real socket that accepts the request and never answers: the read times out after the request left."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/apis/apps/v1/namespaces/prod/deployments/web"
        pool = urllib3.PoolManager()

        def patch():
            return pool.request("PATCH", url, body=b"[]", timeout=0.2, retries=False, preload_content=False)

        with pytest.raises(RollbackError) as written:
            send(patch, what=WHAT, api_error=lambda exc: patch_error(exc, what=WHAT, namespace="prod"),
                 error=RollbackError, write=True)
        with pytest.raises(ClusterReadError) as read:
            send(patch, what="get deployment prod/web", api_error=lambda exc: ClusterReadError(str(exc)))
    assert str(written.value) == ("roll back prod/web: no answer in time; the change may have been applied: "
                                  "check before retrying")
    assert str(read.value).startswith("get deployment prod/web: cannot reach the API server: ")
