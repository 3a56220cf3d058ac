"""voxelomics._malloc: the command caps glibc's arenas; a user's MALLOC_ARENA_MAX wins."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CODE = "import os; from voxelomics._malloc import limit_arenas; print(limit_arenas(), os.environ.get('MALLOC_ARENA_MAX'))"


def _run(env):
    out = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True)
    return out.stdout.split()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")
def test_the_cap_is_applied_and_passed_on_to_workers():
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    applied, value = _run(env)
    assert value == "1"  # in the environment that cohort workers inherit
    assert applied in ("True", "False")  # False only on a non-glibc C library (musl)


def test_a_users_setting_wins():
    assert _run({**os.environ, "MALLOC_ARENA_MAX": "4"}) == ["False", "4"]
