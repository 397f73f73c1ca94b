from tests.doubles.images import entries

from bot.images.dive import DiveEfficiency
from bot.images.model import LayerRef
from bot.images.walk import top_paths, walk_layers


def walk(layers):
    return walk_layers([(LayerRef(index=i, digest=str(i), size_bytes=0), layer) for i, layer in enumerate(layers)])


def test_whiteout_hides_lower_file_and_charges_the_writer():
    result = walk([
        entries([("app/", 0), ("app/big", 100), ("app/keep", 5)]),
        entries([("app/", 0), ("app/.wh.big", 0)]),
    ])
    assert result.reclaimable_bytes == 100
    assert result.layers[0].hidden_bytes == 100
    assert result.layers[0].hidden_by == {1: 100}
    assert result.final_bytes == 5
    assert result.layers[1].deleted == ["app/big"]


def test_opaque_directory_hides_all_lower_children_but_not_its_own_layer():
    result = walk([
        entries([("d/", 0), ("d/a", 10), ("d/b", 20)]),
        entries([("d/", 0), ("d/.wh..wh..opq", 0), ("d/c", 7)]),
    ])
    assert result.reclaimable_bytes == 30
    assert result.final_bytes == 7


def test_overwrite_and_file_replaced_by_directory():
    result = walk([
        entries([("x", 50), ("y", 40)]),
        entries([("x", 60), ("y/", 0), ("y/z", 1)]),
    ])
    assert result.reclaimable_bytes == 90
    assert result.final_bytes == 61


def test_dive_counts_surviving_copy_and_ignores_deleted_directories():
    # dive issue #684: a path written twice counts both copies as wasted; a deleted directory costs nothing.
    dive = DiveEfficiency()
    dive.add_layer(entries([("app/", 0), ("app/a", 10), ("app/dir/", 0), ("app/dir/f", 1000)]))
    dive.add_layer(entries([("app/", 0), ("app/a", 4), ("app/.wh.dir", 0)]))
    figures = dive.result()
    assert figures.wasted_bytes == 14
    # paths: /app/a cum 14 min 4; /app/dir/f 1000; /app/dir (whiteout, dir subtree 1000) -> min 1000
    assert figures.efficiency == float(4 + 1000 + 1000) / float(14 + 1000 + 1000)


def test_dive_whiteout_of_a_file_scores_zero_and_opaque_is_ignored():
    dive = DiveEfficiency()
    dive.add_layer(entries([("f", 100), ("d/", 0), ("d/g", 50)]))
    dive.add_layer(entries([(".wh.f", 0), ("d/", 0), ("d/.wh..wh..opq", 0)]))
    figures = dive.result()
    # /f: 100 + 0 (min 0) -> wasted 100; /d is a leaf in layer 2 only (size 0, is_dir)
    assert figures.wasted_bytes == 100
    assert figures.efficiency == float(0 + 50 + 0) / float(100 + 50 + 0)


def test_dive_whiteout_of_unknown_path_aborts_the_layer_like_dive():
    dive = DiveEfficiency()
    dive.add_layer(entries([("a", 10)]))
    dive.add_layer(entries([(".wh.ghost", 0), ("z", 5)]))
    figures = dive.result()
    # dive stops walking layer 2 at the failed lookup: /z is never scored, /ghost keeps min -1.
    assert figures.efficiency == float(10 - 1) / float(10)


def test_top_paths_stop_at_meaningful_directories():
    layer = entries(
        [("app/.git/objects/pack/p1", 800), ("app/.git/HEAD", 1)]
        + [(f"app/.venv/lib/site-packages/m{i}.py", 60) for i in range(10)]
        + [("app/.venv/pyvenv.cfg", 1)]
        + [(f"app/data/part{i}.csv", 40) for i in range(10)]
        + [("app/main.py", 3)]
    )
    paths = [(p.path, p.bytes) for p in top_paths(layer)]
    assert paths[:3] == [("app/.git", 801), ("app/.venv", 601), ("app/data", 400)]


def test_layer_without_contents_makes_totals_incomplete():
    result = walk_layers([(LayerRef(index=0, digest="a", size_bytes=9), None)])
    assert not result.complete and result.dive is None


def test_top_paths_name_a_directory_of_a_few_big_files_not_each_file():
    layer = entries([("app/tests/data/a.csv", 190), ("app/tests/data/b.csv", 150), ("app/tests/data/c.csv", 80),
                     ("app/.git/objects/pack/p1", 800), ("app/main.py", 3)])
    paths = [(p.path, p.bytes) for p in top_paths(layer)]
    assert ("app/tests/data", 420) in paths and not any(p.endswith(".csv") for p, _ in paths)


def test_top_paths_keep_a_single_big_file():
    layer = entries([("data/big.bin", 1000), ("etc/hosts", 1)])
    assert top_paths(layer)[0].path == "data/big.bin"
