"""Which instructions made the layers of the image that ships: the image checks pair these with history."""

from __future__ import annotations

from bot.dockerfile.parser import Dockerfile, Instruction, Stage

# Instructions that add a filesystem layer. WORKDIR does too when the directory did not exist yet.
LAYER_KEYWORDS = frozenset({"RUN", "COPY", "ADD"})


def shipped_stages(dockerfile: Dockerfile) -> list[Stage]:
    """The final stage and the stages it is built FROM, oldest first."""
    return dockerfile.chain(dockerfile.final_stage)


def layer_instructions(dockerfile: Dockerfile, *, include_workdir: bool = False) -> list[Instruction]:
    """RUN/COPY/ADD of the shipped stages, in build order (the order of the image's history entries
    after the base image's own). With `include_workdir`, WORKDIR is listed too."""
    keywords = LAYER_KEYWORDS | ({"WORKDIR"} if include_workdir else set())
    return [ins for stage in shipped_stages(dockerfile) for ins in stage.instructions if ins.keyword in keywords]
