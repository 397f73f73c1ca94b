"""Every image rule next to its near miss: the case that looks like the culprit and is not.
(The hits are in test_autopsy's incident image and the integration build.)"""

import pytest
from tests.doubles.images import FakeImageReader, entries

from bot.images.autopsy import autopsy
from bot.images.model import FileEntry, ImageConfig

MB = 1_000_000
MiB = 1 << 20
BASE = entries([("usr/lib/libc.so", 5 * MB)])
ADD = ("/bin/sh -c #(nop) ADD file:x in / ", False)
COPY = ("/bin/sh -c #(nop) COPY dir:a in /app ", False)
OK = ImageConfig(user="10001", healthcheck=("CMD", "true"))

# rule -> (layers above BASE, their history, config)
NEAR_MISSES = {
    "fat-layer": ([entries([("opt/a.bin", 99 * MiB)])], [("/bin/sh -c make", False)], OK),
    "vcs-directory": ([entries([("app/.gitignore", 100), ("app/.github/workflows/ci.yml", 100)])], [COPY], OK),
    "host-dependencies": ([entries([("app/node_modules/x/index.js", 5 * MB)])], [("/bin/sh -c npm ci", False)], OK),
    "data-files": ([entries([("app/data/a.csv", 1000)])], [COPY], OK),
    "package-cache-left": ([entries([("var/lib/apt/lists/lock", 0), ("usr/bin/curl", 300_000)])],
                           [("/bin/sh -c apt-get update && apt-get install curl && rm -rf /var/lib/apt/lists/*", False)], OK),
    "build-toolchain": ([entries([("usr/bin/gcc-12", 30 * MB)]), entries([("usr/bin/.wh.gcc-12", 0)])],
                        [("/bin/sh -c apt-get install gcc", False), ("/bin/sh -c apt-get purge gcc", False)], OK),
    "secret-file": ([entries([("app/.env.example", 100)])], [COPY], OK),
    "secret-in-history": ([entries([("app/x", 10)])], [("|2 PIP_TOKEN=$PIP_TOKEN TOKEN_FILE=/run/s /bin/sh -c x", False)], OK),
    "wasted-space": ([entries([("app/a", 500_000)]), entries([("app/a", 500_000)])], [COPY, COPY], OK),
    # Distributions install su and passwd setuid in their own directories.
    "setuid-file": ([[FileEntry("usr/bin/su", 60_000, mode=0o4755), FileEntry("usr/lib/dbus-1.0/helper", 50_000, mode=0o4754)]],
                    [("/bin/sh -c apt-get install -y login dbus", False)], OK),
    "runs-as-root": ([], [], ImageConfig(user="10001:10001", healthcheck=("CMD", "true"))),
    "no-healthcheck": ([], [], ImageConfig(user="10001", healthcheck=("CMD-SHELL", "wget -qO- localhost"))),
}


@pytest.mark.parametrize("rule", sorted(NEAR_MISSES))
def test_near_miss(rule):
    layers, history, config = NEAR_MISSES[rule]
    reader = FakeImageReader()
    reader.add("x:1", [BASE, *layers], history=[ADD, *history], config=config)
    assert rule not in {f.rule for f in autopsy(reader, "x:1").findings}


def test_size_regression_needs_growth():
    reader = FakeImageReader()
    reader.add("x:1", [BASE, entries([("app/a", 10 * MB)])], history=[ADD, COPY], config=OK)
    reader.add("x:0", [BASE, entries([("app/a", 9 * MB)])], history=[ADD, COPY], config=OK)
    assert "size-regression" not in {f.rule for f in autopsy(reader, "x:1", against="x:0").findings}
    reader.add("x:2", [BASE, entries([("app/a", 400 * MB)])], history=[ADD, COPY], config=OK)
    assert "size-regression" in {f.rule for f in autopsy(reader, "x:2", against="x:0").findings}


@pytest.mark.parametrize("user", ["", "root", "0", "0:0", "root:root"])
def test_root_in_any_spelling_runs_as_root(user):
    reader = FakeImageReader()
    reader.add("x:1", [BASE], history=[ADD], config=ImageConfig(user=user or None, healthcheck=("CMD", "true")))
    assert "runs-as-root" in {f.rule for f in autopsy(reader, "x:1").findings}


def test_rules_shared_with_the_dockerfile_doctor_keep_its_severity():
    from bot.dockerfile.catalog import BY_ID

    reader = FakeImageReader()
    reader.add("x:1", [BASE], history=[ADD], config=ImageConfig(user=None, healthcheck=None))
    found = {f.rule: f.severity for f in autopsy(reader, "x:1").findings}
    for rule in ("runs-as-root", "no-healthcheck"):
        assert found[rule] == BY_ID[rule].severity, rule


SUID = 0o4755


@pytest.mark.parametrize(("layers", "history", "expected"), [
    ([[FileEntry("opt/bin/helper", 100, mode=SUID)]], [("/bin/sh -c chmod u+s /opt/bin/helper", False)], {("opt/bin/helper", "4755")}),
    # Brought in from the build context, a setuid file is this Dockerfile's even in a system directory.
    ([[FileEntry("usr/bin/tool", 100, mode=0o2755)]], [COPY], {("usr/bin/tool", "2755")}),
    # Deleted by a later layer: nothing in the container can run it.
    ([[FileEntry("opt/bin/helper", 100, mode=SUID)], [FileEntry("opt/bin/.wh.helper", 0)]], [COPY, ("/bin/sh -c rm /opt/bin/helper", False)], set()),
    # chmod u-s later: the later copy is the one the container sees.
    ([[FileEntry("opt/bin/helper", 100, mode=SUID)], [FileEntry("opt/bin/helper", 100, mode=0o755)]], [COPY, COPY], set()),
    # A hardlink to a setuid file is the same program under a second name.
    ([[FileEntry("app/run", 100, mode=SUID), FileEntry("app/run2", 0, kind="hardlink", mode=SUID, link_target="app/run")]], [COPY],
     {("app/run", "4755"), ("app/run2", "4755")}),
])
def test_setuid_file_names_what_the_container_can_run(layers, history, expected):
    reader = FakeImageReader()
    reader.add("x:1", [BASE, *layers], history=[ADD, *history], config=OK)
    found = {(f.evidence["path"], f.evidence["mode"]) for f in autopsy(reader, "x:1").findings if f.rule == "setuid-file"}
    assert found == expected


def test_a_secret_deleted_later_is_still_named_with_the_layer_that_deleted_it():
    reader = FakeImageReader()
    reader.add("x:1", [BASE, entries([("app/id_rsa", 1700), ("app/.git/HEAD", 20)]), entries([("app/.wh.id_rsa", 0)]),
                       entries([("app/.wh..wh..opq", 0), ("app/main.py", 10)])], history=[ADD, COPY, ("/bin/sh -c rm app/id_rsa", False), COPY], config=OK)
    by_rule = {f.rule: f for f in autopsy(reader, "x:1").findings}
    assert by_rule["secret-file"].evidence["hidden_by"] == 2  # the whiteout
    assert by_rule["vcs-directory"].evidence["hidden_by"] == 3  # the opaque directory
    assert "(deleted by layer 2, but still in this layer of the image)" in by_rule["secret-file"].title
