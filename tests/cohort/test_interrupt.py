"""SIGINT (Ctrl-C) and SIGTERM (a cancelled SLURM job) stop a run cleanly and say so."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

RUN = textwrap.dedent("""
    import functools
    import sys
    sys.path.insert(0, {here!r})

    if __name__ == "__main__":  # `voxelomics extract`: P000, P001 computed, the others stall
        from cohort_standin import stalling_case
        import voxelomics.cohort as cohort_api
        from voxelomics.cli import app

        cohort_api.extract_cohort = functools.partial(cohort_api.extract_cohort,
                                                      case_fn=stalling_case)
        app(["extract", {manifest!r}, "--out", {out!r}, "--settings", {settings!r},
             "--workers", "2", "--no-progress"], prog_name="voxelomics")
""")


def test_exceptions_say_what_stopped_the_run():
    from voxelomics.cohort import CohortInterrupted

    stop = CohortInterrupted.for_signal(signal.SIGINT, 3, 8)
    assert isinstance(stop, KeyboardInterrupt) and stop.exit_code == 130
    term = CohortInterrupted.for_signal(signal.SIGTERM, 3, 8)
    assert isinstance(term, SystemExit) and term.code == term.exit_code == 143
    assert (term.n_saved, term.n_cases) == (3, 8)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_the_cli_cleanly(cohort, broken, light_settings, tmp_path, signum, code):
    from voxelomics.io.manifest import write_manifest

    cases = [cohort[0], broken["unreadable"], *cohort[1:]]  # 9 cases: 2 saved, 1 failed, 6 stall
    manifest = write_manifest(cases, tmp_path / "manifest.csv")
    settings_file = tmp_path / "settings.yaml"
    settings_file.write_text(light_settings.to_yaml())
    out = tmp_path / "out"
    script = tmp_path / "run.py"
    script.write_text(RUN.format(here=str(HERE), settings=str(settings_file),
                                 manifest=str(manifest), out=str(out)))
    parts = out / ".parts" / light_settings.settings_hash()

    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300  # a guard against a hang, not a time limit
        while time.monotonic() < deadline and proc.poll() is None:
            if (parts.is_dir() and len(list(parts.glob("*.arrow"))) >= 2
                    and len(list((out / "logs").glob("*.log"))) >= 1):
                break
            time.sleep(0.02)
        assert proc.poll() is None, f"the run ended before the signal: {proc.stderr.read()}"
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    m = re.search(r"interrupted: (\d+) of 9 cases saved in (.+); re-run the same command to "
                  r"resume", stderr)
    assert m is not None, stderr
    saved = int(m[1])
    assert m[2] == str(out)
    assert saved == 2
    assert len(list(parts.glob("*.arrow"))) == saved
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "interrupted" and run["signal"] == signal.Signals(signum).name
    # a case saved by its worker may not have reported back before the signal
    assert run["n_done"] <= saved and run["ended"]
    # the failure run.json counts is listed in errors.csv (issue 10, item 12)
    assert run["n_failed"] == 1
    errors = (out / "errors.csv").read_text().splitlines()
    assert len(errors) == 2 and errors[1].startswith("BAD_unreadable,read_image,InputError,")
    assert not (out / "features.parquet").exists()
    assert not list(parts.glob(".*.tmp"))
