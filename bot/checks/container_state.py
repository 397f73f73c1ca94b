"""What a container's status says about it, decided once: the `workload` findings and the rollback
decision (`revision_health`) count the same containers as crash-looping or failing to pull."""

from __future__ import annotations

from bot.cluster.snapshots import ContainerSnapshot

PULL_FAILURES = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "RegistryUnavailable"}
CONFIG_ERRORS = {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}
RESTART_THRESHOLD = 5
# OOM kills that repeat: a container killed once may have met a spike; killed twice at its limit, it leaks
# or is sized too small. A slow leak runs longer between kills than the kubelet's 10-minute back-off reset,
# so it never shows CrashLoopBackOff and stays below RESTART_THRESHOLD for hours.
OOM_RESTARTS = 2


def crash_looping(c: ContainerSnapshot, *, restart_threshold: int = RESTART_THRESHOLD) -> bool:
    """In CrashLoopBackOff, restarted `restart_threshold` times or more, or OOM-killed again and again."""
    restarts = c.restart_count or 0
    repeated_oom = c.last_terminated_reason == "OOMKilled" and restarts >= OOM_RESTARTS
    return c.state_reason == "CrashLoopBackOff" or restarts >= restart_threshold or repeated_oom


def pulling_fails(c: ContainerSnapshot) -> bool:
    """Waiting on an image the kubelet cannot pull, whatever the pod's phase (a running pod's container that
    restarts re-pulls with imagePullPolicy Always, and waits in ImagePullBackOff like a new pod's)."""
    return c.state == "waiting" and c.state_reason in PULL_FAILURES
