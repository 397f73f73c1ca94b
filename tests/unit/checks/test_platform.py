"""An image's platform against its nodes': foreign only when no node listed can run it."""

import pytest

from bot.checks import platform
from bot.checks.pulls import platform_missing
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


@pytest.mark.parametrize(("message", "missing"), [
    # containerd: the index answered, no entry for the node's platform; it does not name the platform.
    ('Failed to pull image "r/app:4": rpc error: code = NotFound desc = failed to pull and unpack image '
     '"r/app:4": no match for platform in manifest: not found', None),
    # Docker (cri-dockerd) names what it looked for.
    ('Failed to pull image "r/app:4": rpc error: code = Unknown desc = Error response from daemon: no matching '
     'manifest for linux/amd64 in the manifest list entries', "linux/amd64"),
    # CRI-O (containers/image), old and new wording.
    ('Failed to pull image "r/app:4": rpc error: code = Unknown desc = choosing an image from manifest list '
     'docker://r/app:4: no image found in manifest list for architecture amd64, variant "", OS linux',
     "linux/amd64"),
    ('choosing an image from manifest list docker://r/app:4: no image found in image index for architecture '
     '"arm", variant "v7", OS "linux"', "linux/arm/v7"),
])
def test_a_pull_that_finds_no_variant_for_the_node_is_told(message, missing):
    found = platform_missing(message)
    assert found is not None and found.platform == missing


@pytest.mark.parametrize("message", [
    'failed to resolve reference "r/app:4": r/app:4: not found',  # a tag that does not exist
    "503 Service Unavailable",
    'Back-off pulling image "r/app:4"',
])
def test_other_pull_failures_are_no_platform_mismatch(message):
    assert platform_missing(message) is None
