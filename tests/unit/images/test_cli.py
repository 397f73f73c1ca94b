import json

from click.testing import CliRunner
from tests.doubles.images import tar_bytes

from bot.cli import main

HISTORY = [
    {"created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
    {"created_by": "|1 NPM_TOKEN=npm_abcdef /bin/sh -c #(nop) COPY dir:def in /app "},
]
LAYERS = [
    tar_bytes([("bin/", None), ("bin/sh", b"x" * 100)]),
    tar_bytes([("app/", None), ("app/.git/", None), ("app/.git/HEAD", b"r" * 2000), ("app/.npmrc", b"//r/:_authToken=npm_abcdef")]),
]


def test_json_output_is_the_interface(registry, tmp_path):
    registry.add_image("app", "v2", LAYERS, HISTORY)
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM busybox\nARG NPM_TOKEN\nCOPY . /app\n")
    result = CliRunner().invoke(main, ["image", f"127.0.0.1:{registry.port}/app:v2", "--source", "registry",
                                       "--dockerfile", str(dockerfile), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["layers"][1]["instruction"] == "COPY . /app" and data["layers"][1]["line"] == 3
    assert data["dockerfile"]["source"] == "given"
    assert {"vcs-directory", "secret-file", "secret-in-history"} <= {f["rule"] for f in data["findings"]}
    assert "npm_abcdef" not in result.output


def test_text_output_names_layers_and_fixes(registry):
    registry.add_image("app", "v2", LAYERS, HISTORY)
    result = CliRunner().invoke(main, ["image", f"127.0.0.1:{registry.port}/app:v2", "--source", "registry"])
    assert result.exit_code == 0, result.output
    assert "Largest layers:" in result.output and "fix:" in result.output
    assert "RECONSTRUCTED" in result.output
    assert "npm_abcdef" not in result.output


def test_unknown_image_is_one_line_and_exit_1(registry):
    result = CliRunner().invoke(main, ["image", f"127.0.0.1:{registry.port}/nope:v1", "--source", "registry"])
    assert result.exit_code == 1
    assert "not found in the registry" in result.output
    assert "Traceback" not in result.output


def test_missing_dockerfile_is_a_clear_error(registry, tmp_path):
    result = CliRunner().invoke(main, ["image", "x:1", "--dockerfile", str(tmp_path / "nope")])
    assert result.exit_code == 1 and "cannot read" in result.output


def test_bad_reference_is_one_line():
    result = CliRunner().invoke(main, ["image", "not a ref", "--source", "registry"])
    assert result.exit_code == 1 and "not an image reference" in result.output


def test_dockerfile_that_does_not_parse_is_file_line_and_exit_2(registry, tmp_path):
    registry.add_image("app", "v2", LAYERS, HISTORY)
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM busybox\nRUN <<EOF\necho never closed\n")
    result = CliRunner().invoke(main, ["image", f"127.0.0.1:{registry.port}/app:v2", "--source", "registry",
                                       "--dockerfile", str(dockerfile)])
    assert result.exit_code == 2, result.output
    assert f"{dockerfile}:2:" in result.output and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_heredoc_run_is_one_line_of_the_text_report_mapped_to_its_dockerfile_line(registry, tmp_path):
    history = [HISTORY[0], {"created_by": "RUN /bin/sh -c mkdir -p /app\nprintf 'ok' > /app/state\n # buildkit"}]
    layers = [LAYERS[0], tar_bytes([("app/", None), ("app/state", b"o" * 3000)])]
    registry.add_image("app", "v3", layers, history)
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM busybox\nRUN <<EOF\nmkdir -p /app\nprintf 'ok' > /app/state\nEOF\n")
    ref = f"127.0.0.1:{registry.port}/app:v3"
    text = CliRunner().invoke(main, ["image", ref, "--source", "registry", "--dockerfile", str(dockerfile)])
    assert text.exit_code == 0, text.output
    shown = r"RUN <<EOF\nmkdir -p /app\nprintf 'ok' > /app/state\nEOF"
    layer_lines = [line for line in text.output.splitlines() if line.startswith("  #1 ")]
    assert len(layer_lines) == 1 and shown in layer_lines[0] and "(Dockerfile line 2)" in layer_lines[0]
    assert not any(line.startswith(("printf", "EOF")) for line in text.output.splitlines())
    data = json.loads(CliRunner().invoke(main, ["image", ref, "--source", "registry", "--format", "json"]).output)
    assert data["layers"][1]["instruction"] == r"RUN mkdir -p /app\nprintf 'ok' > /app/state"
