"""extract_cohort on the local process pool: outputs, provenance, cache, arguments."""

from __future__ import annotations

import json
from dataclasses import replace

import pandas as pd
import pyarrow.parquet as pq
import pytest
from cohort_standin import case_function

from voxelomics.cohort import case_key, extract_cohort, read_provenance
from voxelomics.errors import InputError, SettingsError


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, cohort, light_settings):
    out = tmp_path_factory.mktemp("local") / "out"
    return extract_cohort(cohort, out=out, settings=light_settings, workers=2, progress=False,
                          case_fn=case_function())


def test_outputs_are_complete(local_run, cohort, light_settings):
    r = local_run
    assert (r.n_cases, r.n_done, r.n_failed, r.n_reused, r.exit_code) == (8, 8, 0, 0, 0)
    df = r.features
    assert list(df.columns[:3]) == ["case_id", "roi", "image_type"]
    assert list(df["case_id"]) == [c.case_id for c in cohort]  # manifest order, not finish order
    assert df.columns[-1] == "site"  # the manifest's extra columns come last
    assert (df["image_type"] == "original").all()
    errors = pd.read_csv(r.errors_path)
    assert list(errors.columns[:4]) == ["case_id", "step", "error_type", "message"]
    assert errors.empty
    run = json.loads(r.run_path.read_text())
    assert run["status"] == "finished" and run["backend"] == "local-processes"
    assert run["n_workers"] == 2 and run["settings_hash"] == light_settings.settings_hash()
    assert run["n_done"] == 8 and run["versions"]["numpy"] and run["started"] <= run["ended"]
    assert len(r.worker_peak_rss_mb) >= 1


def test_parquet_carries_provenance(local_run, light_settings):
    prov = read_provenance(local_run.features_path)
    assert prov["settings_hash"] == light_settings.settings_hash()
    assert prov["settings_yaml"] == light_settings.to_yaml()
    assert {"voxelomics", "numpy", "SimpleITK", "pyarrow"} <= set(prov["versions"])
    assert prov["created"].endswith("+00:00")
    assert b"voxelomics.settings_hash" in pq.read_schema(local_run.features_path).metadata


def test_same_table_in_process(local_run, cohort, light_settings, tmp_path):
    r = extract_cohort(cohort, out=tmp_path, settings=light_settings, scheduler="in-process",
                       progress=False, case_fn=case_function())
    pd.testing.assert_frame_equal(r.features, local_run.features)


def test_rerun_reuses_everything(local_run, cohort, light_settings, tmp_path):
    out = tmp_path / "o"
    extract_cohort(cohort[:5], out=out, settings=light_settings, workers=1, progress=False,
                   case_fn=case_function())
    again = extract_cohort(cohort, out=out, settings=light_settings, workers=2, progress=False,
                           case_fn=case_function())
    assert (again.n_reused, again.n_done) == (5, 3)
    pd.testing.assert_frame_equal(again.features, local_run.features)
    full = extract_cohort(cohort, out=out, settings=light_settings, progress=False,
                          case_fn=case_function())
    assert (full.n_reused, full.n_done) == (8, 0)
    assert json.loads(full.run_path.read_text())["backend"].startswith("none")
    forced = extract_cohort(cohort, out=out, settings=light_settings, workers=2, force=True,
                            progress=False, case_fn=case_function())
    assert (forced.n_reused, forced.n_done) == (0, 8)


def test_changed_settings_recompute(cohort, light_settings, tmp_path):
    extract_cohort(cohort[:3], out=tmp_path, settings=light_settings, workers=1, progress=False,
                   case_fn=case_function())
    other = light_settings.model_copy(update={"families": ["statistics"]})
    assert other.settings_hash() != light_settings.settings_hash()
    r = extract_cohort(cohort[:3], out=tmp_path, settings=other, workers=1, progress=False,
                       case_fn=case_function())
    assert (r.n_reused, r.n_done) == (0, 3)
    assert read_provenance(r.features_path)["settings_hash"] == other.settings_hash()


def test_case_key_is_safe_and_distinct(cohort):
    k = case_key(cohort[0])
    assert k.startswith("P000-") and "/" not in k
    assert case_key(replace(cohort[0], roi="GTV-2")) != k
    assert case_key(replace(cohort[0], image="/elsewhere/x.nii.gz")) == k  # data may move
    odd = replace(cohort[0], case_id="../a b/c")
    assert "/" not in case_key(odd) and " " not in case_key(odd)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"workers": 0}, "workers must be a positive integer"),
        ({"scheduler": "slurm"}, "scheduler 'slurm' is not understood"),
        ({"scheduler": "local-dask", "client": object()}, "either scheduler or client"),
        ({"retries": -1}, "retries must be an integer >= 0"),
        ({"case_timeout": 0}, "case_timeout must be a positive"),
        ({"memory_limit": "lots"}, "memory_limit 'lots' is not a size"),
        ({"naming": "camel"}, "naming must be 'readable' or 'ibsi'"),
        ({"settings": {"families": []}}, "invalid settings: setting 'families'"),  # a dict is validated
        ({"settings": 3}, "settings must be a Settings object, a dict, a preset name or a YAML path"),
    ],
)
def test_unusable_arguments(cohort, tmp_path, kwargs, match):
    with pytest.raises(SettingsError, match=match):
        extract_cohort(cohort, out=tmp_path, progress=False, **kwargs)


def test_unusable_manifest(cohort, tmp_path):
    with pytest.raises(InputError, match="lists no case"):
        extract_cohort([], out=tmp_path, progress=False)
    with pytest.raises(InputError, match="twice"):
        extract_cohort([cohort[0], cohort[0]], out=tmp_path, progress=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="output path is a file"):
        extract_cohort(cohort, out=tmp_path / "file", progress=False)


def test_few_cases_run_in_this_process_unless_workers_are_asked_for(cohort, light_settings, tmp_path):
    """Issue 10, item 12: a one-case extract does not start a pool of worker processes."""
    from voxelomics.cohort.runner import IN_PROCESS_MAX_CASES

    few = cohort[:IN_PROCESS_MAX_CASES]
    auto = extract_cohort(few, out=tmp_path / "a", settings=light_settings, progress=False)
    assert (auto.backend, auto.n_done) == ("in-process", len(few))
    assert json.loads(auto.run_path.read_text())["backend"] == "in-process"
    pool = extract_cohort(few, out=tmp_path / "b", settings=light_settings, workers=1, progress=False)
    assert pool.backend == "local-processes"
    pd.testing.assert_frame_equal(auto.features, pool.features)
    more = extract_cohort(cohort[:IN_PROCESS_MAX_CASES + 1], out=tmp_path / "c",
                          settings=light_settings, progress=False, case_fn=case_function())
    timed = extract_cohort(few, out=tmp_path / "d", settings=light_settings, case_timeout=600,
                           progress=False, case_fn=case_function())
    assert more.backend == timed.backend == "local-processes"  # hard limits need a worker
