"""An image's platform against its nodes': foreign only when no node listed can run it."""

import pytest

from bot.checks import platform
from bot.images.model import ImageConfig, ImageManifest


def manifest(arch, *, os="linux", offered=()):
    return ImageManifest(ref="r/app:1", digest=None, config=ImageConfig(), history=(), layers=(),
                         architecture=arch, os=os, platforms=offered)


@pytest.mark.parametrize(("image", "nodes", "foreign"), [
    (manifest("arm64"), ["linux/amd64"], "linux/arm64"),
    (manifest("amd64"), ["linux/amd64"], None),
    (manifest("arm64"), ["linux/amd64", "linux/arm64"], None),  # a mixed pool: arm64 nodes can run it
    # An index: the reader chose arm64 for itself, but the amd64 nodes pull the amd64 image it offers.
    (manifest("arm64", offered=("linux/arm64", "linux/amd64")), ["linux/amd64"], None),
    (manifest("arm64", offered=("linux/arm64", "linux/arm/v7")), ["linux/amd64"], "linux/arm64"),
    (manifest(None), ["linux/amd64"], None),  # the config does not say
    (manifest("arm64"), [], None),  # the nodes do not say
])
def test_foreign(image, nodes, foreign):
    assert platform.foreign(image, nodes) == foreign


def test_the_words_are_found_in_any_case_and_nowhere_else():
    assert platform.said([None, "exec /app/x: Exec Format Error"])
    assert not platform.said(["exec /app/x: no such file or directory", None])
