"""`coroner gate IMAGE (--against REF | --deployed NS/[KIND/]NAME) ...`: refuse an image in CI.

Exit codes: 0 pass, 1 fail, 2 could not decide (an image that cannot be read, a cluster that cannot be
reached, a Dockerfile that cannot be read, bad usage, two images whose sizes have no measure in common),
said in one line. `--fail-open` turns the
image and cluster cases of 2 into 0 with a warning: a registry outage then does not block every merge.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from bot.redact import redact

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bot.cluster.snapshots import ContainerSnapshot, ServiceWorkload
    from bot.dockerfile.fix import FixResult
    from bot.gate.pressure import ClusterPressure
    from bot.images.autopsy import ImageReport
    from bot.ports import ClusterReader, ImageReader

PASS, FAIL, UNDECIDED = 0, 1, 2


@dataclass(frozen=True)
class Dockerfile:
    path: str
    text: str


class Undecided(Exception):
    """The gate could not decide; the message says why in one line. `fail_open` says whether
    `--fail-open` may let the change through (an outage may; a typo on the command line may not)."""

    def __init__(self, message: str, *, fail_open: bool = True) -> None:
        super().__init__(message)
        self.fail_open = fail_open


@click.command("gate")
@click.argument("image")
@click.option("--against", metavar="REF", help="The image this one replaces (the previous release).")
@click.option("--deployed", metavar="NS/[KIND/]NAME",
              help="Compare with the image the workload runs now, and check its nodes' disks. NS/NAME is a "
                   "Deployment, else a StatefulSet, else a DaemonSet; NS/statefulset/NAME (or deployment/, "
                   "daemonset/) names the kind.")
@click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path),
              help="With --deployed: kubeconfig file (default: CORONER_KUBECONFIG, ~/.kube/config, in-cluster).")
@click.option("--context", help="With --deployed: kubeconfig context (default: CORONER_KUBE_CONTEXT, then current).")
@click.option("--source", type=click.Choice(["docker", "registry"]), default=None,
              help="Read the images from the Docker engine or an OCI registry (default: CORONER_IMAGE_SOURCE, registry).")
@click.option("--dockerfile", type=click.Path(dir_okay=False, path_type=Path),
              help="The Dockerfile that built IMAGE: reasons point at its lines, and the fix diff is printed.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text", show_default=True)
@click.option("--max-growth", type=click.FloatRange(min=1.0), default=1.5, show_default=True,
              help="Fail when the image grew by this factor or more (and by --min-growth-bytes).")
@click.option("--min-growth-bytes", type=click.IntRange(min=0), default=100_000_000, show_default=True,
              help="Fail when the image grew by this many bytes or more (and by --max-growth).")
@click.option("--fail-open", is_flag=True, help="When the gate cannot decide (exit 2), warn and exit 0.")
def gate_command(image: str, against: str | None, deployed: str | None, kubeconfig: Path | None,
                 context: str | None, source: str | None, dockerfile: Path | None, fmt: str, max_growth: float,
                 min_growth_bytes: int, fail_open: bool) -> None:
    """Fail when IMAGE grew too much, adds a secret, a VCS directory or a toolchain, or would fill the disks
    of the nodes that receive it. Exit 0 pass, 1 fail, 2 could not decide."""
    from bot.gate.decision import GatePolicy, decide
    from bot.gate.render import render_github, render_json, render_text
    from bot.ports import CoronerError

    if (against is None) == (deployed is None):
        raise click.UsageError("give exactly one of --against REF or --deployed NS/NAME")
    if deployed is None and (kubeconfig is not None or context is not None):
        raise click.UsageError("--kubeconfig and --context go with --deployed")
    try:
        given = _read_dockerfile(dockerfile) if dockerfile is not None else None
        gathered = _gather(image, against=against, deployed=deployed, kubeconfig=kubeconfig, context=context,
                           source=source, dockerfile=given)
    except Undecided as exc:
        _undecided(exc, fail_open=fail_open)
    except CoronerError as exc:  # whatever else stopped the reading is not a verdict either
        _undecided(Undecided(str(exc)), fail_open=fail_open)
    decision = decide(gathered.candidate, gathered.reference, pressure=gathered.pressure,
                      policy=GatePolicy(max_growth=max_growth, min_growth_bytes=min_growth_bytes))
    decision = replace(decision, notes=(*gathered.notes, *decision.notes))
    fix = _fix(given) if given is not None else None
    if fmt == "json":
        click.echo(render_json(decision, fix=fix))
    elif fmt == "github":
        click.echo(render_github(decision, dockerfile=given.path if given else None, fix=fix), nl=False)
    else:
        click.echo(render_text(decision, fix=fix), nl=False)
    if decision.verdict == "undecided":  # a rule that could not be applied is not a pass
        _undecided(Undecided("; ".join(decision.undecided)), fail_open=fail_open)
    sys.exit(FAIL if decision.verdict == "fail" else PASS)


def _undecided(exc: Undecided, *, fail_open: bool) -> NoReturn:
    why = redact(" ".join(str(exc).split()))  # one line, whatever the error carried
    if fail_open and exc.fail_open:
        click.echo(f"coroner gate: warning: could not decide, passing (--fail-open): {why}", err=True)
        sys.exit(PASS)
    click.echo(f"coroner gate: could not decide: {why}", err=True)
    sys.exit(UNDECIDED)


def _gather(image: str, *, against: str | None, deployed: str | None, kubeconfig: Path | None, context: str | None,
            source: str | None, dockerfile: Dockerfile | None) -> Gathered:
    """Both images' autopsies and, with --deployed, the cluster's figures. Raises `Undecided`.

    The cluster is read first: its receiving nodes' platform picks the image of a multi-arch index."""
    from bot.gate.pressure import read_pressure
    from bot.ports import ClusterReadError
    from bot.readers import cluster_reader, image_reader
    from bot.settings import load_settings

    settings = load_settings()
    if deployed is None:
        assert against is not None
        reader = image_reader(settings, source=source)
        candidate = _autopsy(reader, image, dockerfile)
        reference, missing = _reference(reader, against)
        return Gathered(candidate, reference, None, missing)
    namespace, kind, name = _split(deployed)
    where = context or settings.kube_context or "current context"
    try:
        cluster = cluster_reader(settings, kubeconfig=kubeconfig, context=context)
        workload = _find_workload(cluster, namespace, kind, name)
        if workload is None:
            # A first deploy: nothing runs yet to compare with, nor replicas to count.
            reader = image_reader(settings, source=source)
            sought = kind or "Deployment, StatefulSet or DaemonSet"
            return Gathered(_autopsy(reader, image, dockerfile), None, None, (
                f"no {sought} {namespace}/{name} in {where} (a first deploy?): the candidate is judged alone, "
                "without growth or pull pressure",))
        found = f"{workload.kind} {namespace}/{name}"
        running = _running_image(workload.containers, image, found)
        # The webhook's path: the workload's own pod template and replicas; the kind picks the reach (an
        # HPA's max for a Deployment or a StatefulSet, every receiving node for a DaemonSet).
        pressure = read_pressure(cluster, namespace, name, image_bytes=0, kind=workload.kind, image=image,
                                 replicas=workload.replicas, template=workload.template,
                                 default_platform=settings.image_platform)
    except ClusterReadError as exc:
        raise Undecided(f"cannot read the cluster ({where}): {exc}") from exc
    notes: tuple[str, ...] = ()
    if kind is None:  # a bare name: say which kind it was found as
        notes += (f"--deployed {namespace}/{name} is the {found}" + (
            "" if workload.kind == "Deployment" else f" (no {_before(workload.kind)} of that name)"),)
    reader = image_reader(settings, source=source, platform=pressure.platform)
    candidate = _autopsy(reader, image, dockerfile)
    reference, missing = _reference(reader, running)
    notes += missing
    if pressure.platform is not None and pressure.platform != settings.image_platform:
        notes += (f"images read for {pressure.platform}, the platform of the nodes that receive the pods",)
    return Gathered(candidate, reference, pressure, notes)


@dataclass(frozen=True)
class Gathered:
    candidate: ImageReport
    reference: ImageReport | None  # None: there is nothing to compare with (a first release)
    pressure: ClusterPressure | None
    notes: tuple[str, ...] = ()


def _reference(reader: ImageReader, ref: str) -> tuple[ImageReport | None, tuple[str, ...]]:
    """The image the candidate replaces; one that does not exist (a first release, a deleted tag) leaves
    the candidate judged alone, with a note. Any other read error is `Undecided`."""
    from bot.ports import ImageNotFound

    try:
        return _autopsy(reader, ref, None, missing_ok=True), ()
    except ImageNotFound as exc:
        return None, (f"the reference does not exist, so the candidate is judged alone as a first release: {exc}",)


def _autopsy(reader: ImageReader, ref: str, dockerfile: Dockerfile | None, *, missing_ok: bool = False) -> ImageReport:
    """Raises `Undecided`, or `ImageNotFound` with `missing_ok` when the registry says `ref` does not exist."""
    from bot.images.autopsy import autopsy
    from bot.ports import ImageNotFound, ImageReadError

    try:
        return autopsy(reader, ref, dockerfile_text=dockerfile.text if dockerfile else None,
                       dockerfile_path=dockerfile.path if dockerfile else None, workers=4)
    except ImageReadError as exc:
        if missing_ok and isinstance(exc, ImageNotFound):
            raise
        raise Undecided(f"cannot read image {ref}: {exc}") from exc


def _split(deployed: str) -> tuple[str, str | None, str]:
    """NAMESPACE/NAME (kind None: resolved in `_find_workload`'s order) or NAMESPACE/KIND/NAME."""
    from bot.catalog import kind_named

    parts = deployed.split("/")
    kind = kind_named(parts[1]) if len(parts) == 3 else None
    if len(parts) not in (2, 3) or not all(parts) or (len(parts) == 3 and kind is None):
        raise Undecided(f"--deployed takes NAMESPACE/NAME or NAMESPACE/KIND/NAME (KIND: deployment, statefulset "
                        f"or daemonset), not {deployed!r}", fail_open=False)
    return parts[0], kind, parts[-1]


def _find_workload(cluster: ClusterReader, namespace: str, kind: str | None, name: str) -> ServiceWorkload | None:
    """The workload `--deployed` names: of `kind`, or the first of a Deployment, a StatefulSet, a
    DaemonSet of that name (the order `coroner diagnose` resolves a name in). None when there is none."""
    from bot.checks.facts import get_workload
    from bot.gate.pressure import KINDS
    from bot.ports import ClusterNotFound

    for each in (kind,) if kind else KINDS:
        try:
            return get_workload(cluster, each, namespace, name)
        except ClusterNotFound:
            continue
    return None


def _before(kind: str) -> str:
    """The kinds a bare name is looked for as before `kind`: "Deployment or StatefulSet"."""
    from bot.gate.pressure import KINDS

    return " or ".join(KINDS[:KINDS.index(kind)])


def _running_image(containers: Sequence[ContainerSnapshot], image: str, workload: str) -> str:
    """The image the candidate replaces: the container from the same repository, else the only one."""
    from bot.images.reference import same_repository

    # Two containers running the same image (an app and its worker) are one reference, not a choice.
    same = list(dict.fromkeys(c.image for c in containers if same_repository(c.image, image)))
    every = list(dict.fromkeys(c.image for c in containers))
    if len(same) == 1 or (not same and len(every) == 1):
        return (same or every)[0]
    running = ", ".join(f"{c.name} ({c.image})" for c in containers) or "no containers"
    raise Undecided(f"{workload} runs {running}: none is the one {image} replaces; "
                    "use --against with the image to compare", fail_open=False)


def _read_dockerfile(path: Path) -> Dockerfile:
    from bot.dockerfile.source import DockerfileInputError, read_dockerfile

    try:
        return Dockerfile(str(path), read_dockerfile(str(path)))  # capped in size, as for `coroner lint`
    except DockerfileInputError as exc:
        raise Undecided(str(exc), fail_open=False) from exc


def _fix(dockerfile: Dockerfile) -> FixResult | None:
    """The Dockerfile's fix, as `coroner fix` prints it; a Dockerfile that does not parse has none."""
    from bot.dockerfile.fix import fix
    from bot.ports import CoronerError

    try:
        return fix(dockerfile.text, path=dockerfile.path, context=Path(dockerfile.path).parent, measure_context=False)
    except CoronerError as exc:
        click.echo(f"coroner gate: warning: no fix for {dockerfile.path}: {exc}", err=True)
        return None
