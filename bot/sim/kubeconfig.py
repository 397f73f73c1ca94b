"""A kubeconfig whose current context points at the sim, so the official client (and kubectl) use it
exactly as they would a real cluster."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

DEFAULT_CONTEXT = "coroner-sim"
# Not a secret: the sim accepts any token. A bearer token keeps the client on its production auth path.
SIM_TOKEN = "coroner-sim-token"


def kubeconfig_dict(url: str, *, context: str = DEFAULT_CONTEXT, namespace: str | None = None) -> dict[str, Any]:
    ctx: dict[str, Any] = {"cluster": context, "user": f"{context}-user"}
    if namespace:
        ctx["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": context, "cluster": {"server": url}}],
        "users": [{"name": f"{context}-user", "user": {"token": SIM_TOKEN}}],
        "contexts": [{"name": context, "context": ctx}],
        "current-context": context,
    }


def write_kubeconfig(path: str | Path, url: str, *, context: str = DEFAULT_CONTEXT,
                     namespace: str | None = None) -> Path:
    """Write (replace) a kubeconfig at `path`, readable only by its owner like `kubectl` writes them."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(kubeconfig_dict(url, context=context, namespace=namespace), sort_keys=False)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return target
