"""Failure isolation: broken cases become error rows, crashes and timeouts do not stop the run."""

from __future__ import annotations

import pandas as pd
import pytest
from cohort_standin import breaking_case, flaky_case, new_case

from voxelomics.cohort import extract_cohort


def test_mixed_cohort(cohort, broken, light_settings, tmp_path):
    good = cohort[:4]
    bad = [broken[k] for k in ("unreadable", "empty", "geometry", "crash", "segfault")]
    slow = new_case("BAD_slow", good[0].image, good[0].mask)
    cases = [good[0], bad[0], good[1], bad[1], bad[2], good[2], bad[3], bad[4], slow, good[3]]
    r = extract_cohort(cases, out=tmp_path, settings=light_settings, workers=2, case_timeout=4,
                       progress=False, case_fn=breaking_case)

    assert r.exit_code == 1
    assert (r.n_cases, r.n_done, r.n_failed, r.n_reused) == (10, 4, 6, 0)
    assert list(r.features["case_id"]) == [c.case_id for c in good]
    err = r.errors.set_index("case_id")
    assert list(err.index) == [c.case_id for c in cases if c.case_id.startswith("BAD")]

    def row(case_id):
        return err.loc[case_id]

    assert row("BAD_unreadable")["error_type"] == "InputError"
    assert row("BAD_unreadable")["step"] == "read_image"
    assert "garbage.nii.gz" in row("BAD_unreadable")["message"]
    assert row("BAD_empty_roi")["error_type"] == "EmptyRoiError"
    assert "no voxel" in row("BAD_empty_roi")["message"]
    assert row("BAD_geometry")["error_type"] == "GeometryError"
    assert row("BAD_crash")["error_type"] == "WorkerCrashed"
    assert "exited with code 3" in row("BAD_crash")["message"]
    assert row("BAD_segfault")["error_type"] == "WorkerCrashed"
    assert "SIGSEGV" in row("BAD_segfault")["message"]
    assert row("BAD_slow")["error_type"] == "CaseTimeout"
    assert "4 s" in row("BAD_slow")["message"]
    for case_id in err.index:  # every message names its case; every failure has a log
        assert case_id in row(case_id)["message"]
        log = (r.out / row(case_id)["log"]).read_text()
        assert f"case_id: {case_id}" in log
    assert "Traceback" in (r.out / row("BAD_unreadable")["log"]).read_text()


def test_failures_are_not_cached(cohort, broken, light_settings, tmp_path):
    cases = [cohort[0], broken["crash"]]
    first = extract_cohort(cases, out=tmp_path, settings=light_settings, workers=1,
                           progress=False, case_fn=breaking_case)
    assert (first.n_done, first.n_failed) == (1, 1)
    again = extract_cohort(cases, out=tmp_path, settings=light_settings, workers=1,
                           progress=False, case_fn=breaking_case)
    assert (again.n_reused, again.n_done, again.n_failed) == (1, 0, 1)  # tried again
    assert list(again.errors["case_id"]) == ["BAD_crash"]


def test_retries_recover_a_lost_worker(cohort, light_settings, tmp_path):
    import shutil

    image = tmp_path / "flaky_image.nii.gz"
    shutil.copy(cohort[1].image, image)
    flaky = new_case("FLAKY", image, cohort[1].mask)
    no_retry = extract_cohort([flaky, cohort[0]], out=tmp_path / "a", settings=light_settings,
                              workers=1, progress=False, case_fn=flaky_case)
    assert list(no_retry.errors["error_type"]) == ["WorkerCrashed"]
    image.with_suffix(".crashed-once").unlink()
    r = extract_cohort([flaky, cohort[0]], out=tmp_path / "b", settings=light_settings,
                       workers=1, retries=1, progress=False, case_fn=flaky_case)
    assert (r.n_done, r.n_failed, r.exit_code) == (2, 0, 0)
    assert list(r.features["case_id"]) == ["FLAKY", cohort[0].case_id]


def test_memory_limit_fails_only_the_greedy_case(cohort, light_settings, tmp_path):
    pytest.importorskip("resource")
    cases = [cohort[0], new_case("GREEDY", cohort[1].image, cohort[1].mask)]
    r = extract_cohort(cases, out=tmp_path, settings=light_settings, workers=1,
                       memory_limit="3GiB", progress=False, case_fn=greedy_case)
    assert list(r.features["case_id"]) == [cohort[0].case_id]
    err = r.errors.iloc[0]
    assert err["case_id"] == "GREEDY" and err["error_type"] in ("MemoryError", "WorkerCrashed")


def greedy_case(case, settings, naming="readable"):
    """Allocates 8 GiB for the GREEDY case (beyond a 3 GiB limit)."""
    import numpy as np
    from cohort_standin import case_function

    if case.case_id == "GREEDY":
        big = np.ones(8 * 2**30, dtype=np.uint8)
        return {"case_id": case.case_id, "n": float(big.sum())}
    return case_function()(case, settings, naming=naming)


def test_errors_table_has_header_when_empty(cohort, light_settings, tmp_path):
    from cohort_standin import case_function

    r = extract_cohort(cohort[:1], out=tmp_path, settings=light_settings, workers=1,
                       progress=False, case_fn=case_function())
    assert r.errors_path.read_text().splitlines() == ["case_id,step,error_type,message,roi,log"]
    assert pd.read_csv(r.errors_path).empty


def test_memory_limit_below_the_libraries_is_an_argument_error(cohort, light_settings, tmp_path):
    pytest.importorskip("resource")
    from voxelomics.errors import SettingsError

    with pytest.raises(SettingsError, match="memory_limit of 0.10 GiB is too low"):
        extract_cohort(cohort[:2], out=tmp_path, settings=light_settings, workers=1,
                       memory_limit="100MiB", progress=False)


def test_every_case_failed_keeps_the_identifier_and_provenance_columns(cohort, broken, light_settings,
                                                                       tmp_path):
    import pyarrow.parquet as pq

    good = extract_cohort(cohort[:1], out=tmp_path / "good", settings=light_settings,
                          scheduler="in-process", progress=False)
    bad = extract_cohort([broken["unreadable"], broken["empty"]], out=tmp_path / "bad",
                         settings=light_settings, scheduler="in-process", progress=False)
    assert (bad.n_failed, bad.exit_code) == (2, 1)
    table = bad.features
    assert len(table) == 0
    id_columns = ["case_id", "roi", "image_type", "modality", "provenance"]
    assert list(good.features.columns[:5]) == id_columns  # a normal run, real extract_case
    # the broken cases have no extra column; every table names the patient, lesion and region
    study = ["patient_id", "lesion_id", "region"]
    assert list(table.columns) == id_columns + study
    schema = pq.read_schema(bad.features_path)
    assert all(str(schema.field(c).type) == "string" for c in id_columns + study)
