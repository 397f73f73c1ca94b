"""One way to build an official-client `ApiClient`, for every component that talks to a cluster.

The read-only `KubernetesClusterReader` and the `KubernetesRollbacker` (the one writer) connect the same
way: a kubeconfig file and context, else the pod's service account. Errors are one line that names the
file and the context.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

import urllib3
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

from bot.ports import ClusterReadError
from bot.yamlfile import describe_yaml_error


def api_configuration(pool_size: int) -> k8s.Configuration:
    configuration = k8s.Configuration()
    configuration.connection_pool_maxsize = pool_size  # checks fetch node summaries concurrently
    # Retry a refused connection, never a read: a slow API server must cost one timeout, not four
    # (urllib3's default retries a timed-out GET three times).
    configuration.retries = urllib3.Retry(total=None, connect=2, read=0, redirect=3, status=0, other=0)
    return configuration


def from_kubeconfig(path: str | Path | None, context: str | None, *,
                    pool_size: int) -> tuple[k8s.ApiClient, str | None]:
    """An ApiClient from a kubeconfig file (default `~/.kube/config`), and the context it uses."""
    configuration = api_configuration(pool_size)
    try:
        api_client = k8s_config.new_client_from_config(
            config_file=str(path) if path is not None else None, context=context,
            persist_config=False, client_configuration=configuration)
    except (ConfigException, OSError, TypeError, ValueError) as exc:
        where = path or "~/.kube/config"
        raise ClusterReadError(f"cannot load kubeconfig {where} (context {context or 'current'}): {exc}") from exc
    except yaml.YAMLError as exc:  # the client lets PyYAML's multi-line report escape
        raise ClusterReadError(f"cannot load kubeconfig {path or '~/.kube/config'}: {describe_yaml_error(exc)}") from exc
    return api_client, context or current_context(path)


def in_cluster(*, pool_size: int) -> k8s.ApiClient:
    """An ApiClient from the pod's service account (token and CA mounted by Kubernetes)."""
    configuration = api_configuration(pool_size)
    try:
        k8s_config.load_incluster_config(client_configuration=configuration)
    except ConfigException as exc:
        raise ClusterReadError(f"not running in a cluster: {exc}") from exc
    return k8s.ApiClient(configuration)


def connect(kubeconfig: str | Path | None, context: str | None, *,
            pool_size: int) -> tuple[k8s.ApiClient, str | None]:
    """A kubeconfig when one is given or found; otherwise the in-cluster service account (context None)."""
    if kubeconfig is not None:
        return from_kubeconfig(kubeconfig, context, pool_size=pool_size)
    try:
        return from_kubeconfig(None, context, pool_size=pool_size)
    except ClusterReadError:
        if context is not None:
            raise
        return in_cluster(pool_size=pool_size), None


def current_context(path: str | Path | None) -> str | None:
    try:
        _, active = k8s_config.list_kube_config_contexts(config_file=str(path) if path is not None else None)
    except (ConfigException, OSError, TypeError, ValueError):
        return None
    return active.get("name") if active else None


class ApiClientOwner:
    """Owns an ApiClient: `close()`, or the end of a `with` block, releases its connection pool."""

    _api_client: k8s.ApiClient

    def close(self) -> None:
        self._api_client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
