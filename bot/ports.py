"""The protocols the core depends on. Implementations are named for their technology
(`KubernetesClusterReader`, `RegistryImageReader`, `DockerImageReader`); test doubles are `Fake*`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # annotations only: `coroner lint` imports this module and must start fast
    from collections.abc import Iterator
    from datetime import datetime

    from bot.cluster.rollback import RollbackResult, RolloutProgress
    from bot.cluster.snapshots import (
        ControllerRevisionSnapshot,
        DeploymentSnapshot,
        EventSnapshot,
        HpaSnapshot,
        NodeFsSummary,
        NodeSnapshot,
        PodSnapshot,
        ReplicaSetSnapshot,
        WorkloadSnapshot,
    )
    from bot.deadline import Deadline
    from bot.images.model import FileEntry, ImageManifest, LayerRef


class CoronerError(Exception):
    """Base of every error Coroner reports to a person: its message is meant to be read as is."""


class ClusterReadError(CoronerError):
    """The cluster could not answer (network, timeout, unexpected status)."""


class ClusterForbidden(ClusterReadError):
    """RBAC refused a call. `verb` and `resource` say what permission is missing."""

    def __init__(self, message: str, *, verb: str, resource: str) -> None:
        super().__init__(message)
        self.verb = verb
        self.resource = resource


class ClusterNotFound(ClusterReadError):
    """The object does not exist."""


class RollbackError(CoronerError):
    """A rollback that was not applied, or a rollout that could not be followed; the message says why."""


class RollbackForbidden(RollbackError):
    """RBAC refused a call the rollback needs; `verb`, `resource` and `namespace` say what to grant."""

    def __init__(self, message: str, *, verb: str, resource: str, namespace: str) -> None:
        super().__init__(message)
        self.verb = verb
        self.resource = resource
        self.namespace = namespace


class RollbackNotFound(RollbackError):
    """The Deployment, or the revision asked for, does not exist."""


class RollbackPaused(RollbackError):
    """The Deployment is paused: `kubectl rollout undo` refuses it too, until `kubectl rollout resume`."""


class RollbackConflict(RollbackError):
    """The Deployment changed since the rollback was offered (or while it was patched)."""


class RolloutTimeout(RollbackError):
    """The rollout did not finish within the time allowed to watch it."""


class ImageReadError(CoronerError):
    """The image could not be read (unknown reference, registry down, auth refused)."""


class ImageNotFound(ImageReadError):
    """The reference names no image: the registry (or the engine) answered that it does not exist, as
    opposed to not answering. The gate judges a candidate alone when the image it replaces is gone."""


class ClusterReader(Protocol):
    """Read-only view of one cluster context. Methods raise `ClusterReadError` subclasses. `clock` is the
    cluster's notion of now (the API server's, for the real reader), which ages are measured against."""

    context: str | None

    @property
    def clock(self) -> Clock: ...  # read-only: a reader may keep a richer clock (ServerClock)

    def within(self, deadline: Deadline) -> ClusterReader:
        """This reader with its reads bounded by `deadline`: past it they raise `DeadlineExceeded` (each
        check reads through one, so a stalled API server ends the check on time). An in-process reader,
        which never waits, may return itself."""
        ...

    def list_nodes(self) -> list[NodeSnapshot]: ...

    def node_fs_summary(self, node: str, *, pods: bool = False) -> NodeFsSummary:
        """Kubelet summary API through `nodes/{node}/proxy`; raises `ClusterForbidden` without that RBAC.
        With `pods`, the per-pod stats too (`NodeFsSummary.pods`); without, they are not parsed."""
        ...

    def list_namespaces(self) -> list[str]: ...

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        """The labels of one namespace (read with `list namespaces` and a field selector: the read-only
        ClusterRole's grant); raises `ClusterNotFound` for a namespace that does not exist."""
        ...

    def list_pods(
        self, namespace: str | None, *, label_selector: str | None = None, field_selector: str | None = None
    ) -> list[PodSnapshot]: ...

    def list_events(self, namespace: str | None, *, field_selector: str | None = None) -> list[EventSnapshot]: ...

    def get_deployment(self, namespace: str, name: str) -> DeploymentSnapshot: ...

    def list_deployments(
        self, namespace: str | None, *, label_selector: str | None = None
    ) -> list[DeploymentSnapshot]: ...

    def list_replicasets(self, namespace: str, *, label_selector: str | None = None) -> list[ReplicaSetSnapshot]: ...

    def list_hpas(self, namespace: str) -> list[HpaSnapshot]: ...

    def list_jobs(self, namespace: str | None) -> list[WorkloadSnapshot]:
        """batch/v1 Jobs (a Job pod's owner; the Job's own owner is its CronJob, if any)."""
        ...

    def get_statefulset(self, namespace: str, name: str) -> WorkloadSnapshot:
        """One apps/v1 StatefulSet by name: `ClusterNotFound` when it does not exist, `ClusterForbidden`
        without `get statefulsets`."""
        ...

    def get_daemonset(self, namespace: str, name: str) -> WorkloadSnapshot:
        """One apps/v1 DaemonSet by name: `ClusterNotFound` when it does not exist, `ClusterForbidden`
        without `get daemonsets`."""
        ...

    def list_statefulsets(self, namespace: str | None) -> list[WorkloadSnapshot]:
        """apps/v1 StatefulSets: a service that is not a Deployment (kafka, postgres)."""
        ...

    def list_daemonsets(self, namespace: str | None) -> list[WorkloadSnapshot]:
        """apps/v1 DaemonSets: a service that runs one pod per node (a node agent)."""
        ...

    def list_controllerrevisions(
        self, namespace: str, *, label_selector: str | None = None
    ) -> list[ControllerRevisionSnapshot]:
        """apps/v1 ControllerRevisions: the revisions of StatefulSets and DaemonSets."""
        ...


class ClusterRollbacker(Protocol):
    """The one change Coroner makes to a cluster: `kubectl rollout undo` of a Deployment, and following
    the rollout it starts. Separate from `ClusterReader` so read-only code cannot reach it. Methods raise
    `RollbackError` subclasses."""

    context: str | None

    def rollback(self, *, namespace: str, name: str, to_revision: int, expected_revision: int | None = None,
                 dry_run: bool = False) -> RollbackResult: ...

    def rollout_progress(self, *, namespace: str, name: str) -> RolloutProgress: ...

    def wait_for_rollout(self, *, namespace: str, name: str, timeout: float = 600.0,
                         poll: float = 2.0) -> Iterator[RolloutProgress]: ...


class ImageReader(Protocol):
    """Reads an image without running it. Raises `ImageReadError`, and `DeadlineExceeded` once
    `deadline` has passed: a reader that waits on a network stops waiting then (default: no deadline)."""

    def manifest(self, ref: str, *, deadline: Deadline = ...) -> ImageManifest: ...

    def layer_files(self, ref: str, layer: LayerRef, *, deadline: Deadline = ...) -> Iterator[FileEntry]:
        """Stream the tar members of one layer; memory stays flat however big the layer is."""
        ...


class ChatPoster(Protocol):
    """Posts rendered messages to chat (Slack). Returns the message id (`ts`)."""

    def post(self, *, channel: str, text: str, blocks: list[dict[str, Any]], thread_ts: str | None = None) -> str: ...

    def update(self, *, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None:
        """Edit a posted message in place (the live root message, a notice's state)."""
        ...

    def post_ephemeral(self, *, channel: str, user: str, text: str) -> None:
        """A message only `user` sees (a refusal, a usage hint)."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...
