"""The multi-stage split of a Python image with build tools in its final stage, on any base."""

from __future__ import annotations

import pytest

from bot.dockerfile.fix import fix
from bot.dockerfile.packages import classify
from bot.dockerfile.parser import Dockerfile, parse
from bot.dockerfile.rules import lint
from bot.dockerfile.shell import parse_script

# An outage-style Dockerfile: a CUDA base, Python from apt, the whole toolchain, no .dockerignore.
OUTAGE = """\
FROM nvidia/cuda:12.1.1-base-ubuntu22.04
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y python3 python3-pip build-essential git cuda-toolkit-12-1 vim curl
WORKDIR /srv
COPY . .
RUN pip install -r requirements.txt
CMD python3 app.py
"""

UBUNTU_CONTINUED = """\
FROM ubuntu:22.04
RUN apt-get update \\
 && apt-get install -y --no-install-recommends \\
    python3 \\
    python3-pip \\
    gcc \\
    libpq-dev \\
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip3 install --upgrade pip && pip3 install --no-cache-dir -r requirements.txt
COPY src/ ./src/
USER 10001:10001
CMD ["python3", "-m", "src"]
"""

PYTHON_IMAGE = """\
FROM python:3.12
RUN apt-get update && apt-get install -y --no-install-recommends gcc g++ make && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
USER 10001
CMD ["python", "app.py"]
"""


def installed(d: Dockerfile, stage: int) -> set[str]:
    """The packages apt/apk install in a stage."""
    out: set[str] = set()
    for ins in d.stages[stage].instructions:
        if ins.keyword != "RUN":
            continue
        for c in parse_script(ins.shell_script).commands:
            call = classify(c)
            if call is not None and call.action in ("install", "add") and call.manager in ("apt", "apk"):
                out.update(p.split("=", 1)[0] for p in call.packages)
    return out


@pytest.mark.parametrize("text", [OUTAGE, UBUNTU_CONTINUED, PYTHON_IMAGE], ids=["cuda-apt", "ubuntu", "python"])
def test_the_final_stage_ships_no_toolchain_and_relints_clean(text: str) -> None:
    r = fix(text)
    d = parse(r.text)
    assert len(d.stages) == 2 and d.stages[0].name == "builder"
    final = installed(d, 1)
    assert not final & {"cuda-toolkit-12-1", "build-essential", "git", "vim", "gcc", "g++", "make", "libpq-dev"}
    assert final <= installed(d, 0) | {"libpq5"}
    assert "build-tools-in-final-stage" in {f.rule for f in r.fixed}
    assert not [f.rule for f in lint(d) if f.evidence.get("fixable")]
    assert "build-tools-in-final-stage" not in {f.rule for f in lint(d)}


def test_the_outage_split_keeps_python_and_names_the_runtime_packages() -> None:
    r = fix(OUTAGE)
    d = parse(r.text)
    assert {"python3", "python3-pip", "curl"} <= installed(d, 1)
    assert {"build-essential", "git", "cuda-toolkit-12-1", "vim"} <= installed(d, 0)
    builder = "\n".join(i.original for i in d.stages[0].instructions)
    final = "\n".join(i.original for i in d.stages[1].instructions)
    assert "pip wheel --wheel-dir /wheels -r requirements.txt" in builder
    assert "--mount=type=bind,from=builder,source=/wheels,target=/wheels" in final
    assert "--no-index --find-links=/wheels -r requirements.txt" in final
    assert d.stages[1].base_image == "nvidia/cuda:12.1.1-base-ubuntu22.04"  # the base stays: no guess
    notes = "\n".join(r.notes)
    assert "cuda-libraries-12-1" in notes and "git" in notes and "kubectl debug" in notes
    assert set(r.dropped_packages) == {"build-essential", "cuda-toolkit-12-1", "git", "vim"}


def test_continuation_lines_of_dropped_packages_go_and_dev_gets_its_runtime_library() -> None:
    r = fix(UBUNTU_CONTINUED)
    final = [i for i in parse(r.text).stages[1].instructions if i.keyword == "RUN"][0].original
    assert "    gcc \\" not in final and "libpq-dev" not in final
    assert "    libpq5 \\" in final.splitlines()
    # pip's install-only option is not given to `pip wheel`, which would refuse it
    builder = "\n".join(i.original for i in parse(r.text).stages[0].instructions)
    assert "wheel --wheel-dir /wheels pip" in builder and "--upgrade" not in builder


def test_python_image_moves_to_slim_in_the_final_stage() -> None:
    d = parse(fix(PYTHON_IMAGE).text)
    assert d.stages[0].base_image == "python:3.12" and d.stages[1].base_image == "python:3.12-slim"
    assert not [i for i in d.stages[1].instructions if i.keyword == "RUN" and "apt-get" in i.original]


@pytest.mark.parametrize(("text", "why"), [
    ("FROM ubuntu:22.04\nRUN apt-get update && apt-get install -y git python3-pip\nRUN git clone https://x/y /y\n"
     "RUN pip install -r /y/requirements.txt\nCMD [\"python3\"]\n", "runs `git`"),
    ("FROM ubuntu:22.04\nRUN apt-get update && apt-get install -y gcc python3-pip\nCOPY . .\n"
     "RUN pip install -e .\nCMD [\"python3\"]\n", "installs the project itself"),
    ("FROM ubuntu:22.04\nRUN apt-get update && apt-get install -y gcc python3-pip\n"
     "RUN pip install flask && make\nCMD [\"python3\"]\n", "mixes pip"),
    ("FROM ubuntu:22.04\nRUN apt-get update && apt-get install -y gcc\nCMD [\"/bin/true\"]\n", "no `pip install`"),
])
def test_an_unsafe_split_is_left_alone_with_the_reason(text: str, why: str) -> None:
    finding = next(f for f in lint(parse(text)) if f.rule == "build-tools-in-final-stage")
    assert finding.evidence["fixable"] is False and why in finding.evidence["why_not"]
    r = fix(text)
    assert len(parse(r.text).stages) == 1
    assert any(n.startswith("build-tools-in-final-stage") and why in n for n in r.notes)


NODE_MIXED = """\
FROM node:20
WORKDIR /app
RUN apt-get update && apt-get install -y python3 make g++ curl && curl -fsSL -o /usr/local/bin/w https://x/w
COPY package.json package-lock.json ./
RUN npm ci --omit dev
COPY . .
CMD ["node", "server.js"]
"""


def test_node_split_takes_the_compilers_out_of_a_mixed_run() -> None:
    r = fix(NODE_MIXED)
    d = parse(r.text)
    assert [s.base_image for s in d.stages] == ["node:20", "node:20-slim"]
    assert installed(d, 1) == {"python3", "curl"} and {"make", "g++"} <= installed(d, 0)
    final = "\n".join(i.original for i in d.stages[1].instructions)
    assert "curl -fsSL -o /usr/local/bin/w https://x/w" in final  # the rest of the RUN stays
    assert "COPY --link --from=builder /app/node_modules ./node_modules" in final
    assert set(r.dropped_packages) == {"make", "g++"}
