"""The readers built from settings: the kubernetes client and the image source.

Both the composition root (`bot.wiring`) and the CLI commands that read without serving (`coroner
diagnose`, `coroner image`) build them here, so those commands do not import the composition root and
with it SQLAlchemy, bolt and the web app (docs/benchmarks-startup.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from bot.ports import ClusterReader, ImageReader
    from bot.settings import Settings


def cluster_reader(settings: Settings, *, kubeconfig: Path | None = None, context: str | None = None) -> ClusterReader:
    """The official kubernetes client: the given kubeconfig, else CORONER_KUBECONFIG, else in-cluster."""
    from bot.cluster.kubernetes_reader import KubernetesClusterReader  # lazy: start-up time

    return KubernetesClusterReader.connect(kubeconfig or settings.kubeconfig, context or settings.kube_context)


def image_reader(settings: Settings, *, source: str | None = None, docker_contents: str = "auto",
                 platform: str | None = None) -> ImageReader:
    """CORONER_IMAGE_SOURCE's reader: an OCI registry over HTTP (production), or the local Docker engine.
    `platform` (os/arch) picks the image of a multi-arch index, else CORONER_IMAGE_PLATFORM.

    Each source imports only its own client: the registry reader never pays for the docker SDK."""
    if (source or settings.image_source) == "docker":
        from bot.images.docker_reader import DockerImageReader  # lazy: start-up time

        return DockerImageReader(contents=docker_contents)
    from bot.images.registry_auth import RegistryAuth  # lazy: start-up time
    from bot.images.registry_reader import RegistryImageReader  # lazy: start-up time

    # Credentials are scoped per registry host: each goes to its own registry only (docs/images.md).
    auth = RegistryAuth(settings.registry_credentials(), trusted_realms=settings.registry_token_realms)
    return RegistryImageReader(platform=platform or settings.image_platform, byte_budget=settings.image_byte_budget, auth=auth,
                               mirrors=settings.registry_mirror_map())
