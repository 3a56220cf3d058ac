"""The top-level ``voxelomics`` namespace: lazy public names are listed by dir()."""

from __future__ import annotations

import subprocess
import sys

import voxelomics


def test_dir_lists_every_public_name():
    names = dir(voxelomics)
    assert set(voxelomics.__all__) <= set(names)
    assert names == sorted(names)
    assert "annotations" not in names  # the __future__ import is not part of the API
    for name in voxelomics.__all__:
        assert getattr(voxelomics, name) is not None


def test_dir_in_a_fresh_interpreter_before_any_lazy_import():
    code = ("import voxelomics, sys; print(sorted(n for n in dir(voxelomics) if not n.startswith('_'))); "
            "print('voxelomics.extract' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    public, imported = out.splitlines()
    assert public == str(["Settings", "delta_features", "extract_cohort", "extract_features", "load_preset"])
    assert imported == "False"  # listing the names does not import them
