"""The image check hands the current revision's image (and the previous one) to the autopsy."""

from collections.abc import Iterator

from bot.checks import image
from bot.images.model import FileEntry, HistoryEntry, ImageConfig, ImageManifest, LayerRef
from bot.ports import ImageReadError

REPO = "registry.example.com/shop/user-profile-service"


class FakeImageReader:
    """Two images: v6 small, v7 with a venv, .git and CSV data copied in."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.files = {
            f"{REPO}:v6": [[FileEntry("usr/bin/python3", 5_000_000)], [FileEntry("app/main.py", 20_000)]],
            f"{REPO}:v7": [
                [FileEntry("usr/bin/python3", 5_000_000)],
                [FileEntry("app/main.py", 20_000), FileEntry("app/.git/objects/pack/p.pack", 900_000_000),
                 FileEntry("app/data/test.csv", 600_000_000), FileEntry("app/.venv/lib/torch.so", 300_000_000)],
            ],
        }

    def manifest(self, ref: str, *, deadline: object = None) -> ImageManifest:
        self.asked.append(ref)
        if ref not in self.files:
            raise ImageReadError(f"{ref}: manifest unknown")
        layers = tuple(
            LayerRef(i, f"sha256:{ref[-1]}{i}" + "0" * 62, sum(f.size_bytes for f in files))
            for i, files in enumerate(self.files[ref])
        )
        return ImageManifest(
            ref=ref, digest=None, config=ImageConfig(user=None),
            history=(HistoryEntry("/bin/sh -c #(nop) ADD file:abc in / "), HistoryEntry("COPY . . # buildkit")),
            layers=layers,
        )

    def layer_files(self, ref: str, layer: LayerRef, *, deadline: object = None) -> Iterator[FileEntry]:
        return iter(self.files[ref][layer.index])


def test_autopsy_runs_on_current_image_against_previous(meltdown, ctx_of):
    reader = FakeImageReader()
    findings = image.run(ctx_of(meltdown, images=reader), image.ImageParams())
    assert f"{REPO}:v7" in reader.asked and f"{REPO}:v6" in reader.asked
    assert findings, "the autopsy should have something to say about a 1.8 GB COPY"
    assert all(f.check == "image" for f in findings)


def test_without_reader_says_what_is_missing(meltdown, ctx_of):
    (f,) = image.run(ctx_of(meltdown), image.ImageParams())
    assert f.rule == "check-failed" and "no image reader" in f.title


def test_unknown_image_is_an_image_read_error(meltdown, ctx_of):
    import pytest

    reader = FakeImageReader()
    del reader.files[f"{REPO}:v7"]
    with pytest.raises(ImageReadError):
        image.run(ctx_of(meltdown, images=reader), image.ImageParams(compare_previous=False))
