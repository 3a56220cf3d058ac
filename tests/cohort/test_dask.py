"""The Dask back-end against a real scheduler and two workers on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from cohort_standin import breaking_case, case_function, new_case

from voxelomics.cohort import extract_cohort

pytest.importorskip("distributed")
HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """``dask scheduler`` + two ``dask worker --nthreads 1`` processes on loopback."""
    folder = tmp_path_factory.mktemp("dask")
    sched_file = folder / "scheduler.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    common = dict(env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs = [subprocess.Popen(
        [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
         "--no-dashboard", "--scheduler-file", str(sched_file)], **common)]
    try:
        deadline = time.monotonic() + 300  # a guard against a hang, not a time limit
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sched_file.exists(), "the dask scheduler did not start"
        for _ in range(2):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "dask", "worker", "--scheduler-file", str(sched_file),
                 "--nthreads", "1", "--no-nanny", "--no-dashboard",
                 "--host", "127.0.0.1", "--memory-limit", "2GiB"], **common))
        address = json.loads(sched_file.read_text())["address"]
        from distributed import Client

        with Client(address, timeout="120s") as client:
            client.wait_for_workers(2, timeout=300)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        deadline = time.monotonic() + 5
        for p in reversed(procs):
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)


def test_scheduler_gives_the_local_table(dask_cluster, cohort, light_settings, tmp_path):
    assert dask_cluster.startswith("tcp://127.0.0.1:")
    local = extract_cohort(cohort, out=tmp_path / "local", settings=light_settings, workers=2,
                           progress=False, case_fn=case_function())
    remote = extract_cohort(cohort, out=tmp_path / "dask", settings=light_settings,
                            scheduler=dask_cluster, progress=False, case_fn=case_function())
    assert (remote.n_done, remote.n_failed, remote.backend) == (8, 0, f"dask:{dask_cluster}")
    assert remote.n_workers == 2
    pd.testing.assert_frame_equal(remote.features, local.features)
    run = json.loads(remote.run_path.read_text())
    assert run["backend"] == f"dask:{dask_cluster}" and run["status"] == "finished"
    # resumable on Dask too
    again = extract_cohort(cohort, out=tmp_path / "dask", settings=light_settings,
                           scheduler=dask_cluster, progress=False, case_fn=case_function())
    assert (again.n_reused, again.n_done) == (8, 0)


def test_dask_isolates_failures(dask_cluster, cohort, broken, light_settings, tmp_path):
    import shutil

    from distributed import Client

    cases = [cohort[0], broken["unreadable"], broken["empty"], cohort[1]]
    with Client(dask_cluster, timeout="30s") as client:
        r = extract_cohort(cases, out=tmp_path / "a", settings=light_settings, client=client,
                           progress=False, case_fn=breaking_case)
        assert client.status == "running"  # a given client is left open
        # the time limit, with a case that never ends (no real case racing the limit)
        image = tmp_path / "hang_image.nii.gz"
        shutil.copy(cohort[0].image, image)
        hang = new_case("BAD_hang", image, cohort[0].mask)
        t = extract_cohort([hang], out=tmp_path / "b", settings=light_settings, client=client,
                           case_timeout=1, progress=False, case_fn=breaking_case)
    assert r.exit_code == 1 and r.backend == "dask:client"
    assert list(r.features["case_id"]) == [cohort[0].case_id, cohort[1].case_id]
    assert list(r.errors["error_type"]) == ["InputError", "EmptyRoiError"]
    assert list(t.errors["error_type"]) == ["CaseTimeout"]
    assert "case timeout of 1 s" in t.errors["message"][0]


def test_unreachable_scheduler_is_an_argument_error(cohort, light_settings, tmp_path):
    from voxelomics.errors import SettingsError

    with pytest.raises(SettingsError, match="could not connect to the Dask scheduler"):
        extract_cohort(cohort[:1], out=tmp_path, settings=light_settings,
                       scheduler="tcp://127.0.0.1:9", progress=False)
