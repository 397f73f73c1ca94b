"""A 1 GB layer streams through the registry reader and the walk with flat memory."""

import subprocess
import textwrap

import pytest
from tests.cli_process import cli_env, python


SCRIPT = textwrap.dedent(
    """
    import hashlib, sys, tarfile, zlib
    from tests.doubles.images import RegistryDouble, tar_bytes
    from bot.images.autopsy import autopsy
    from bot.images.registry_reader import RegistryImageReader

    SIZE = 1 << 30
    info = tarfile.TarInfo("data/big.bin"); info.size = SIZE
    header = info.tobuf(format=tarfile.PAX_FORMAT)
    total = len(header) + SIZE + 1024

    def plain():
        yield header
        zeros = bytes(1 << 20)
        for _ in range(SIZE >> 20):
            yield zeros
        yield bytes(1024)

    if sys.argv[1] == "gzip":
        # A gigabyte of zeros gzips to about a megabyte: the reader must inflate it a bounded chunk at a time.
        packer = zlib.compressobj(1, zlib.DEFLATED, 31)
        blob = b"".join(packer.compress(chunk) for chunk in plain()) + packer.flush()
        total = len(blob)
        generate = lambda: iter([blob])
        media_gzip = True
    else:
        generate = plain
        media_gzip = False

    digest = hashlib.sha256()  # the reader checks the blob against it, as it streams
    for chunk in generate():
        digest.update(chunk)

    registry = RegistryDouble()
    registry.add_image("big", "v1", [tar_bytes([("etc/", None)])],
                       [{"created_by": "base"}, {"created_by": "/bin/sh -c #(nop) COPY file:abcdef12 in /data "}],
                       streamed=[("sha256:" + digest.hexdigest(), total, generate)], streamed_gzip=media_gzip)
    report = autopsy(RegistryImageReader(), f"127.0.0.1:{registry.port}/big:v1")
    layer = report.layers[1]
    assert layer.size_bytes == SIZE, layer
    assert report.layers[1].top_paths[0].path == "data/big.bin"
    # VmHWM is this process's own peak: ru_maxrss survives execve and would report pytest's peak instead.
    with open("/proc/self/status") as status:
        print(next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")))
    """
)


@pytest.mark.slow  # streams 1 GiB through the reader in a child process
@pytest.mark.parametrize("compression", ["plain", "gzip"])
def test_one_gigabyte_layer_keeps_peak_rss_under_200_mb(compression):
    result = subprocess.run(
        [*python(SCRIPT), compression],
        capture_output=True, text=True, timeout=300, env=cli_env(),
    )
    assert result.returncode == 0, result.stderr
    peak_kib = int(result.stdout.strip().splitlines()[-1])
    assert peak_kib < 200 * 1024, f"peak RSS {peak_kib} KiB"
