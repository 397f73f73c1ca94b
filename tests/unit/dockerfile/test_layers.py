from __future__ import annotations

from bot.dockerfile.layers import layer_instructions, shipped_stages
from bot.dockerfile.parser import parse


def test_layers_of_the_shipped_chain_only() -> None:
    d = parse(
        "FROM golang:1.22 AS build\nRUN go build -o /app\n"
        "FROM debian:12-slim AS base\nRUN apt-get update\nWORKDIR /srv\n"
        "FROM base\nCOPY --from=build /app /app\nCMD [\"/app\"]\n"
    )
    assert [s.index for s in shipped_stages(d)] == [1, 2]
    assert [(i.keyword, i.line) for i in layer_instructions(d)] == [("RUN", 4), ("COPY", 7)]
    assert [i.keyword for i in layer_instructions(d, include_workdir=True)] == ["RUN", "WORKDIR", "COPY"]
