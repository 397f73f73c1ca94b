"""Reuses the checks' hand-built worlds (registry-meltdown on FakeClusterReader) for engine tests.

Under `--import-mode=importlib` a conftest cannot be imported by name, so it is loaded by path.
"""

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("_checks_world", Path(__file__).parent.parent / "checks" / "conftest.py")
world = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(world)

meltdown = world.meltdown
healthy = world.healthy
ctx_of = world.ctx_of
