"""Layers are untrusted bytes from whatever registry a pod names: every malformed or hostile tar ends in
one `ImageReadError` that names the layer, in bounded time and memory, never a traceback or a hang."""

import io
import subprocess
import tarfile
import textwrap

import pytest
from tests.doubles.images import deep_layer, file_header, pax_layer, pax_record, special_header, tar_bytes

from bot.images.autopsy import autopsy
from bot.images.registry_reader import RegistryImageReader
from bot.images.tarstream import iter_layer_blob
from bot.ports import ImageReadError
from tests.cli_process import CORONER, cli_env, python

HISTORY = [{"created_by": "/bin/sh -c #(nop) ADD file:abc in / "}]


def _one_layer_image(registry, layer: bytes, tag: str = "v1") -> str:
    registry.add_image("app", tag, [layer], HISTORY)
    return f"127.0.0.1:{registry.port}/app:{tag}"


@pytest.mark.slow  # a coroner process
def test_pax_record_of_length_zero_makes_coroner_image_fail_instead_of_hanging(registry):
    ref = _one_layer_image(registry, pax_layer(b"0 path=x\n"))
    try:
        result = subprocess.run(
            [*CORONER, "image", ref, "--source", "registry"],
            capture_output=True, text=True, timeout=60, env=cli_env(),
        )
    except subprocess.TimeoutExpired:
        pytest.fail("coroner image did not return within 60 s on a PAX record of length 0")
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "layer 0 (sha256:" in line and "PAX record" in line, line


@pytest.mark.parametrize(
    "records",
    [
        b"zz path=x\n",  # length is not a number
        b"5 path=x\n",  # shorter than its own text
        b"99 path=x\n",  # runs past the header
        b"9 pathx\n\n",  # no key=value
        b"no space here",
        pax_record("size", "abc"),  # a size that is not a number
        pax_record("size", "-10"),  # a negative size
    ],
    ids=["not-a-number", "too-short", "past-the-end", "no-equals", "no-space", "size-not-a-number", "negative-size"],
)
def test_malformed_pax_header_is_one_line_naming_the_layer(registry, records):
    ref = _one_layer_image(registry, pax_layer(records))
    reader = RegistryImageReader()
    manifest = reader.manifest(ref)
    with pytest.raises(ImageReadError) as info:
        list(reader.layer_files(ref, manifest.layers[0]))
    message = str(info.value)
    assert f"layer 0 ({manifest.layers[0].digest}) of app is unreadable" in message and "\n" not in message


def test_well_formed_pax_records_still_apply():
    records = pax_record("path", "app/" + "long/" * 40 + "name.txt") + pax_record("mtime", "1700000000.5")
    (entry,) = list(iter_layer_blob(io.BytesIO(pax_layer(records))))
    assert entry.path == "app/" + "long/" * 40 + "name.txt" and entry.size_bytes == 5


def test_a_bad_tar_header_checksum_is_one_line_naming_the_layer(registry):
    layer = bytearray(tar_bytes([("app/", None), ("app/x", b"1")]))
    layer[148:156] = b"0000000\0"  # checksum of the first header
    ref = _one_layer_image(registry, bytes(layer))
    reader = RegistryImageReader()
    manifest = reader.manifest(ref)
    with pytest.raises(ImageReadError, match="layer 0 .* is unreadable"):
        list(reader.layer_files(ref, manifest.layers[0]))


@pytest.mark.slow  # builds and walks a 2,000-deep tree
@pytest.mark.parametrize("depth", [500, 2000])
def test_a_directory_thousands_deep_is_walked_iteratively(registry, depth):
    ref = _one_layer_image(registry, deep_layer(depth))
    report = autopsy(RegistryImageReader(), ref)
    assert report.totals.final_bytes == 4
    assert report.totals.dive_efficiency == 1.0


def test_more_entries_than_the_limit_is_one_line_naming_the_layer(registry):
    ref = _one_layer_image(registry, tar_bytes([(f"f{i}", b"") for i in range(101)]))
    from bot.images.tarstream import LayerLimits

    reader = RegistryImageReader(layer_limits=LayerLimits(max_entries=100))
    manifest = reader.manifest(ref)
    with pytest.raises(ImageReadError, match=r"layer 0 .* more than 100 entries"):
        list(reader.layer_files(ref, manifest.layers[0]))


def test_names_longer_than_the_limit_are_one_line_naming_the_layer(registry):
    ref = _one_layer_image(registry, tar_bytes([(f"dir/{i:04d}-" + "n" * 90, b"") for i in range(20)]))
    from bot.images.tarstream import LayerLimits

    reader = RegistryImageReader(layer_limits=LayerLimits(max_name_bytes=1000))
    manifest = reader.manifest(ref)
    with pytest.raises(ImageReadError, match=r"layer 0 .* more than 1000 bytes of names"):
        list(reader.layer_files(ref, manifest.layers[0]))


# -- bombs: measured in a child process, whose peak RSS is its own ------------------------------------

BOMB = textwrap.dedent(
    """
    import sys, tarfile, time
    from tests.doubles.images import RegistryDouble, file_header, gzip_chunks, pax_record, sha, special_header
    from bot.images.autopsy import autopsy
    from bot.images.registry_reader import RegistryImageReader
    from bot.ports import ImageReadError

    MIB = 1 << 20
    kind = sys.argv[1]

    def one_huge(header_type):
        # A 300 MB extended header: records of "A"s, which gzip to almost nothing.
        size = 300 * MIB
        yield special_header(header_type, size)
        for _ in range(size // MIB):
            yield b"A" * MIB
        yield file_header("app/x", 0) + bytes(1024)

    def chain():
        # 300 PAX headers of 1 MB in a row, each with a new key: each is small, together they are not.
        for i in range(300):
            record = pax_record(f"SCHILY.xattr.user.k{i}", "A" * (MIB - 64))
            yield special_header(tarfile.XHDTYPE, len(record)) + record + b"\\0" * (-len(record) % 512)
        yield file_header("app/x", 0) + bytes(1024)

    chunks = {"pax": lambda: one_huge(tarfile.XHDTYPE), "gnu-longname": lambda: one_huge(tarfile.GNUTYPE_LONGNAME),
              "global-pax": lambda: one_huge(tarfile.XGLTYPE), "pax-chain": chain}[kind]()
    blob = gzip_chunks(chunks)
    registry = RegistryDouble()
    registry.add_image("bomb", "v1", [], [{"created_by": "ADD bomb"}],
                       streamed=[(sha(blob), len(blob), lambda: iter([blob]))], streamed_gzip=True)
    started = time.perf_counter()
    try:
        autopsy(RegistryImageReader(), f"127.0.0.1:{registry.port}/bomb:v1")
    except ImageReadError as exc:
        print(f"{time.perf_counter() - started:.3f}")
        print(exc)
    else:
        print("no error")
    print(len(blob))
    with open("/proc/self/status") as status:
        print(next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")))
    """
)


@pytest.mark.slow  # a child process under a memory limit per bomb
@pytest.mark.parametrize("kind", ["pax", "gnu-longname", "global-pax", "pax-chain"])
def test_extended_header_bomb_is_refused_in_bounded_memory(kind):
    result = subprocess.run(
        [*python(BOMB), kind],
        capture_output=True, text=True, timeout=300, env=cli_env(),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    message, compressed, peak_kib = result.stdout.strip().splitlines()[-3:]
    assert int(compressed) < 1 << 20  # the bomb itself is small
    assert "layer 0 (sha256:" in message and "header" in message, message
    assert int(peak_kib) < 150 * 1024, f"peak RSS {int(peak_kib) // 1024} MiB"


def test_headers_within_the_limits_are_read():
    name = "app/" + "n" * 5000
    data = (special_header(tarfile.GNUTYPE_LONGNAME, len(name) + 1) + (name.encode() + b"\0").ljust(5120, b"\0")
            + file_header("ignored", 3) + b"abc".ljust(512, b"\0") + bytes(1024))
    (entry,) = list(iter_layer_blob(io.BytesIO(data)))
    assert entry.path == name and entry.size_bytes == 3
