import gzip
import io
import tarfile

import pytest

from bot.images.tarstream import ChunkStream, iter_layer_blob, iter_tar


def _tar(fmt: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as archive:
        long_dir = "app/" + "deep/" * 30
        for name, data in ((long_dir + "file.txt", b"a" * 1500), ("app/ünïcode.csv", b"b" * 10)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("app/link-to-" + "x" * 120)
        link.type, link.linkname = tarfile.LNKTYPE, long_dir + "file.txt"
        archive.addfile(link)
        symlink = tarfile.TarInfo("app/sym")
        symlink.type, symlink.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(symlink)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT], ids=["pax", "gnu"])
def test_fast_reader_agrees_with_tarfile_on_long_names_links_and_unicode(fmt):
    data = _tar(fmt)
    fast = [(e.path, e.size_bytes, e.kind, e.link_target) for e in iter_layer_blob(ChunkStream([data[i:i + 100] for i in range(0, len(data), 100)]))]
    reference = [(e.path, e.size_bytes, e.kind, e.link_target) for e in iter_tar(io.BytesIO(data))]
    assert fast == reference
    assert fast[0][0].endswith("/deep/file.txt") and fast[2][2] == "hardlink" and fast[2][1] == 0


def test_multi_member_gzip_layer_is_read_whole():
    data = _tar(tarfile.PAX_FORMAT)
    blob = gzip.compress(data[:700]) + gzip.compress(data[700:])
    assert len(list(iter_layer_blob(io.BytesIO(blob)))) == 4


def test_truncated_layer_raises_instead_of_returning_a_partial_list():
    data = _tar(tarfile.PAX_FORMAT)
    with pytest.raises(EOFError):
        list(iter_layer_blob(io.BytesIO(data[:1700])))


def test_names_that_would_garble_a_report_are_escaped_as_ls_b_does():
    from bot.printable import printable

    not_utf8 = b"latin\xe9".decode("utf-8", "surrogateescape")
    assert [printable(n) for n in ("with space", "new\nline", not_utf8, "back\\slash", "\u202egnp.exe", "café")] == [
        "with space", "new\\nline", "latin\\xe9", "back\\\\slash", "\\u202egnp.exe", "café"]
