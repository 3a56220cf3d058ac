"""A run killed with SIGKILL part-way resumes: only the missing cases are computed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from cohort_standin import case_function

from voxelomics.cohort import extract_cohort

HERE = Path(__file__).resolve().parent

RUN = textwrap.dedent("""
    import sys
    sys.path.insert(0, {here!r})
    import functools
    from cohort_standin import stalling_case
    from voxelomics.cohort import extract_cohort
    from voxelomics.settings import Settings

    if __name__ == "__main__":  # P000-P002 are computed, the others stall until killed
        settings = Settings.from_yaml(open({settings!r}).read())
        extract_cohort({manifest!r}, out={out!r}, settings=settings, workers=2, progress=False,
                       case_fn=functools.partial(stalling_case, computed=("P000", "P001", "P002")))
""")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_then_resume(cohort, light_settings, tmp_path):
    from voxelomics.io.manifest import write_manifest

    cases = cohort
    manifest = write_manifest(cases, tmp_path / "manifest.csv")
    settings_file = tmp_path / "settings.yaml"
    settings_file.write_text(light_settings.to_yaml())
    out = tmp_path / "out"
    script = tmp_path / "run.py"
    script.write_text(RUN.format(here=str(HERE), settings=str(settings_file),
                                 manifest=str(manifest), out=str(out)))
    parts = out / ".parts" / light_settings.settings_hash()

    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300  # a guard against a hang, not a time limit
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if parts.is_dir() and len(list(parts.glob("*.arrow"))) >= 3:
                break
            time.sleep(0.02)
        assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read()}"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "features.parquet").exists()  # killed before the merge
    # the orphaned workers leave without writing (stalled cases never finish)
    n_before = len(list(parts.glob("*.arrow")))
    assert n_before == 3

    resumed = extract_cohort(manifest, out=out, settings=light_settings, workers=2,
                             progress=False, case_fn=case_function())
    assert resumed.n_reused == n_before
    assert resumed.n_done == len(cases) - n_before
    assert resumed.n_failed == 0

    reference = extract_cohort(manifest, out=tmp_path / "reference", settings=light_settings,
                               scheduler="in-process", progress=False, case_fn=case_function())
    assert reference.n_done == len(cases)
    pd.testing.assert_frame_equal(resumed.features, reference.features)
