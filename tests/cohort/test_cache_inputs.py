"""What the resume cache keys on: input files (fingerprint), not the manifest's extra
columns nor the column naming; output folder checks; file modes."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys

import pandas as pd
import pytest
from cohort_standin import case_function, new_case

from voxelomics.cohort import extract_cohort
from voxelomics.errors import InputError


def _run(manifest, out, settings, **kw):
    kw.setdefault("scheduler", "in-process")
    return extract_cohort(manifest, out=out, settings=settings, progress=False,
                          case_fn=case_function(), **kw)


def _copy_cases(cohort, folder, n=2):
    """Cases whose files are private copies (so a test may replace them)."""
    folder.mkdir()
    cases = []
    for c in cohort[:n]:
        image = shutil.copy2(c.image, folder / f"{c.case_id}_image.nii.gz")
        mask = shutil.copy2(c.mask, folder / f"{c.case_id}_mask.nii.gz")
        cases.append(new_case(c.case_id, image, mask))
    return cases


def _manifest(path, cases, extra_header="", extra_rows=()):
    lines = ["case_id,image,mask" + extra_header]
    for i, c in enumerate(cases):
        lines.append(f"{c.case_id},{c.image},{c.mask}" + (extra_rows[i] if extra_rows else ""))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_replaced_image_or_mask_is_recomputed(cohort, light_settings, tmp_path):
    cases = _copy_cases(cohort, tmp_path / "data")
    out = tmp_path / "out"
    first = _run(cases, out, light_settings)
    assert (first.n_done, first.n_changed) == (2, 0)
    before = first.features  # read now: the next run replaces the file

    shutil.copyfile(cohort[2].image, cases[0].image)  # same name, other contents
    again = _run(cases, out, light_settings)
    assert (again.n_reused, again.n_done, again.n_changed) == (1, 1, 1)
    fresh = _run(cases, tmp_path / "fresh", light_settings)
    pd.testing.assert_frame_equal(again.features, fresh.features)
    assert again.features["statistics_mean"][0] != before["statistics_mean"][0]
    assert again.features["statistics_mean"][1] == before["statistics_mean"][1]
    assert json.loads(again.run_path.read_text())["n_changed"] == 1

    st = os.stat(cases[1].mask)  # only the time changes: recomputed too
    os.utime(cases[1].mask, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    third = _run(cases, out, light_settings)
    assert (third.n_reused, third.n_done, third.n_changed) == (1, 1, 1)

    last = _run(cases, out, light_settings)
    assert (last.n_reused, last.n_done, last.n_changed) == (2, 0, 0)
    parts = list((out / ".parts" / light_settings.settings_hash()).glob("*.arrow"))
    assert len(parts) == 2  # the stale entries were replaced


def test_dicom_folder_fingerprint(tmp_path):
    from voxelomics.cohort.cache import input_fingerprint

    series = tmp_path / "series"
    series.mkdir()
    for i in range(3):
        (series / f"{i}.dcm").write_bytes(b"x" * (10 + i))
    (series / "sub").mkdir()
    case = new_case("A", series, tmp_path / "missing_mask.nii.gz")
    fp = input_fingerprint(case)
    assert len(fp) == 16 and input_fingerprint(case) == fp
    (series / "sub" / "ignored.txt").write_text("a sub-folder is not part of the series")
    assert input_fingerprint(case) == fp
    (series / "3.dcm").write_bytes(b"y")
    with_slice = input_fingerprint(case)
    assert with_slice != fp
    st = os.stat(series / "1.dcm")
    os.utime(series / "1.dcm", ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert input_fingerprint(case) != with_slice
    moved = tmp_path / "moved"
    shutil.copytree(series, moved, copy_function=shutil.copy2)  # times kept: same inputs
    os.utime(moved / "1.dcm", ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert input_fingerprint(new_case("A", moved, tmp_path / "missing_mask.nii.gz")) \
        == input_fingerprint(case)


def test_extra_columns_and_naming_are_joined_at_merge(cohort, light_settings, tmp_path):
    manifest = _manifest(tmp_path / "m.csv", cohort[:2], ",outcome,age,site",
                         [",0,63.5,A", ",1,,B"])
    out = tmp_path / "out"
    first = _run(manifest, out, light_settings)
    df = first.features
    assert list(df["outcome"]) == [0, 1] and df["outcome"].dtype == "int64"
    assert df["age"].dtype == "float64" and df["age"].iloc[0] == 63.5 and pd.isna(df["age"].iloc[1])
    assert list(df["site"]) == ["A", "B"]
    assert list(df.columns[-3:]) == ["outcome", "age", "site"]

    _manifest(manifest, cohort[:2], ",outcome,age,site,stage", [",1,63.5,A,II", ",0,70,B,III"])
    again = _run(manifest, out, light_settings)
    assert (again.n_reused, again.n_done) == (2, 0)
    assert list(again.features["outcome"]) == [1, 0]
    assert list(again.features["stage"]) == ["II", "III"]

    ibsi = _run(manifest, out, light_settings, naming="ibsi")
    assert (ibsi.n_reused, ibsi.n_done) == (2, 0)  # naming is applied at the merge
    fresh = _run(manifest, tmp_path / "fresh", light_settings, naming="ibsi")
    pd.testing.assert_frame_equal(ibsi.features, fresh.features)
    assert "stat_mean" in ibsi.features.columns and "statistics_mean" not in ibsi.features.columns


def _series_seen(case, settings, naming="readable"):
    """The stand-in row, plus what the case function was given of the extra columns."""
    from cohort_standin import standin_case

    row = standin_case(case, settings, naming=naming)
    row["given_extra"] = ",".join(sorted(case.extra))
    return row


def test_series_uid_reaches_the_case_function_and_the_key(cohort, light_settings, tmp_path):
    from dataclasses import replace

    from voxelomics.cohort import case_key

    one, two = (replace(cohort[0], extra={"series_uid": uid, "outcome": 1}) for uid in ("1.2.3", "1.2.4"))
    assert case_key(one) != case_key(two)
    assert case_key(replace(cohort[0], extra={"outcome": 1})) == case_key(cohort[0])  # keys kept
    r = extract_cohort([one, two], out=tmp_path, settings=light_settings, progress=False,
                       scheduler="in-process", case_fn=_series_seen)
    df = r.features
    assert list(df["given_extra"]) == ["series_uid", "series_uid"]  # not the outcome
    assert list(df["series_uid"]) == ["1.2.3", "1.2.4"] and list(df.columns[-2:]) == ["series_uid", "outcome"]


@pytest.mark.parametrize("column", ["statistics_mean", "stat_mean", "provenance", "image_type"])
def test_extra_column_named_like_a_feature_is_refused(cohort, light_settings, tmp_path, column):
    manifest = _manifest(tmp_path / "m.csv", cohort[:1], f",{column}", [",1"])
    with pytest.raises(InputError, match=f"column '{column}'"):
        _run(manifest, tmp_path / "out", light_settings)
    assert not (tmp_path / "out" / "run.json").exists()  # refused before the run


@pytest.mark.parametrize("where", ["/proc/voxelomics-out", "file/below"])
def test_unwritable_out_folder(cohort, light_settings, tmp_path, where):
    (tmp_path / "file").write_text("x")
    out = where if where.startswith("/") else tmp_path / where
    with pytest.raises(InputError, match=f"{out}: cannot write to the output folder"):
        _run(cohort[:1], out, light_settings)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_output_files_follow_the_umask(cohort, broken, light_settings, tmp_path):
    old = os.umask(0o027)
    try:
        r = extract_cohort([cohort[0], broken["unreadable"]], out=tmp_path / "out",
                           settings=light_settings, workers=1, progress=False,
                           case_fn=case_function())
    finally:
        os.umask(old)
    files = [r.features_path, r.errors_path, r.run_path, *r.logs_dir.glob("*.log"),
             *(r.out / ".parts").rglob("*.arrow")]
    assert len(files) == 5
    assert {f.name: oct(stat.S_IMODE(f.stat().st_mode)) for f in files} \
        == {f.name: oct(0o640) for f in files}
