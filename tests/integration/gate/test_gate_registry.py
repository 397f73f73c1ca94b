"""`coroner gate --against` as a process, on real images in a loopback registry."""

from __future__ import annotations

import json
import socket

import pytest

from tests.integration.gate.conftest import GateImages, coroner

pytestmark = pytest.mark.slow  # coroner gate as a process per test, against images in a registry

SMALL_GROWTH = ("--min-growth-bytes", "5000000")  # the test images grow by 12 MiB, not by 100 MB


def test_a_grown_image_fails_with_its_culprit_layers_and_the_fix(gate_images: GateImages):
    proc = coroner("gate", gate_images.grown, "--against", gate_images.reference, *SMALL_GROWTH,
                   "--dockerfile", str(gate_images.grown_dockerfile), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    decision = json.loads(proc.stdout)
    assert decision["verdict"] == "fail"
    assert (decision["candidate"], decision["reference"]) == (gate_images.grown, gate_images.reference)
    reasons = {r["code"]: r for r in decision["reasons"]}
    growth = reasons["image-growth"]
    assert growth["evidence"]["growth_factor"] >= 1.5
    assert growth["evidence"]["growth_bytes"] >= 12 * 1024 * 1024
    culprit = growth["evidence"]["layers"][0]
    assert culprit["line"] == 4 and culprit["instruction"].startswith("RUN dd if=/dev/zero")
    assert culprit["top_paths"][0]["path"] == "app/model.bin"
    assert growth["line"] == 4
    vcs = reasons["new-critical-finding"]
    assert vcs["evidence"]["rule"] == "vcs-directory" and vcs["evidence"]["new"] == ["app/.git"]
    assert vcs["line"] == 3
    assert "fix" in decision and decision["fix"]["file"] == str(gate_images.grown_dockerfile)


def test_the_github_format_lands_each_reason_on_its_dockerfile_line(gate_images: GateImages):
    dockerfile = str(gate_images.grown_dockerfile)
    proc = coroner("gate", gate_images.grown, "--against", gate_images.reference, *SMALL_GROWTH,
                   "--dockerfile", dockerfile, "--format", "github")
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stdout.splitlines() if line.startswith("::error ")]
    assert f"::error file={dockerfile},line=4,title=coroner gate%3A image-growth::" in "\n".join(errors)
    assert any(e.startswith(f"::error file={dockerfile},line=3,title=coroner gate%3A new-critical-finding::")
               for e in errors)
    assert proc.stdout.splitlines()[len(errors)].startswith("::notice title=coroner gate::coroner gate: fail ")
    group = proc.stdout.split("::group::coroner gate: Dockerfile fix\n", 1)[1].split("::endgroup::", 1)[0]
    # One patch, as `coroner fix` prints it: the .dockerignore is a hunk of it, so `git apply` takes both.
    assert "-COPY . .\n" in group and "+++ b/.dockerignore\n" in group and "\n+.git\n" in group


def test_text_output_without_the_smaller_threshold_fails_on_the_git_directory_only(gate_images: GateImages):
    proc = coroner("gate", gate_images.grown, "--against", gate_images.reference)
    assert proc.returncode == 1, proc.stderr
    # Both read from the registry, their layers walked: compared on what the nodes would store.
    assert proc.stdout.startswith(f"coroner gate: FAIL {gate_images.grown} against {gate_images.reference} "
                                  "(sizes compared uncompressed)\n")
    assert "  new-critical-finding: vcs-directory:" in proc.stdout
    assert "image-growth" not in proc.stdout  # +12 MiB is under the default 100 MB
    assert "Fix for" not in proc.stdout  # no --dockerfile, no fix


def test_a_fixed_image_passes(gate_images: GateImages):
    proc = coroner("gate", gate_images.fixed, "--against", gate_images.reference, *SMALL_GROWTH)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith(f"coroner gate: PASS {gate_images.fixed}")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_registry_cannot_decide_and_fail_open_passes_with_a_warning(gate_images: GateImages):
    missing = f"127.0.0.1:{_closed_port()}/app:v2"
    proc = coroner("gate", missing, "--against", gate_images.reference)
    assert proc.returncode == 2
    assert proc.stdout == ""
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"coroner gate: could not decide: cannot read image {missing}")
    opened = coroner("gate", missing, "--against", gate_images.reference, "--fail-open")
    assert opened.returncode == 0
    (warning,) = opened.stderr.strip().splitlines()
    assert warning.startswith("coroner gate: warning: could not decide, passing (--fail-open)")


def test_an_unknown_tag_cannot_decide(gate_images: GateImages):
    proc = coroner("gate", gate_images.reference.rsplit(":", 1)[0] + ":nope", "--against", gate_images.reference)
    assert proc.returncode == 2
    assert "could not decide: cannot read image" in proc.stderr


def test_bad_usage_is_not_failed_open(tmp_path):
    neither = coroner("gate", "app:v2", "--fail-open")
    assert neither.returncode == 2 and "exactly one of --against REF or --deployed NS/NAME" in neither.stderr
    missing = coroner("gate", "app:v2", "--against", "app:v1", "--dockerfile", str(tmp_path / "nope"), "--fail-open")
    assert missing.returncode == 2 and "could not decide" in missing.stderr
    deployed = coroner("gate", "app:v2", "--deployed", "just-a-name", "--fail-open")
    assert deployed.returncode == 2 and "NAMESPACE/NAME" in deployed.stderr


def test_layers_out_of_the_download_budget_leave_the_critical_finding_rule_undecided(gate_images: GateImages):
    """With a one-byte budget no layer is read: the shared base is the reference's own, the rest could
    hold a secret nobody saw. Growth is still compared (on the registry's compressed sizes)."""
    budget = {"CORONER_IMAGE_BYTE_BUDGET": "1"}
    proc = coroner("gate", gate_images.grown, "--against", gate_images.reference, "--format", "json", env=budget)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    decision = json.loads(proc.stdout)
    assert decision["verdict"] == "undecided" and decision["reasons"] == []
    assert decision["size_measure"] == "compressed"
    (why,) = decision["undecided"]
    assert why.startswith("new-critical-finding: layers ") and f"of {gate_images.grown} were not read" in why
    assert "(COPY . .)" in why and "(RUN dd if=/dev/zero" in why and "layers 0 " not in why
    # the base layer (and WORKDIR's, when both builds made it alike) is the reference's own
    assert any(note.startswith(("layer 0 of ", "layers 0 and 1 of ")) and "the reference ships" in note
               for note in decision["notes"])
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("coroner gate: could not decide: new-critical-finding: layers ")
    opened = coroner("gate", gate_images.grown, "--against", gate_images.reference, "--fail-open", env=budget)
    assert opened.returncode == 0, opened.stdout + opened.stderr
    assert opened.stdout.startswith(f"coroner gate: UNDECIDED {gate_images.grown}")
    (warning,) = opened.stderr.strip().splitlines()
    assert warning.startswith("coroner gate: warning: could not decide, passing (--fail-open): new-critical-finding: ")
