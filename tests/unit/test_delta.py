"""Delta-radiomics: pairing time points, absolute and relative change, clear errors."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from voxelomics.cli import app
from voxelomics.delta import delta_features, timepoint_order, write_delta
from voxelomics.errors import InputError, SettingsError, VoxelomicsWarning


def _table(rows):
    """rows: (patient, timepoint, roi, volume, mean); outcome per patient."""
    df = pd.DataFrame(rows, columns=["patient_id", "timepoint", "roi", "morphology_volume", "statistics_mean"])
    df.insert(0, "case_id", [f"{p}_{t}" for p, t, *_ in rows])
    df["image_type"] = "original"
    df["modality"] = "CT"
    df["outcome"] = [1 if p == "P1" else 0 for p, *_ in rows]
    df["scanner"] = [f"s{t}" for _, t, *_ in rows]  # differs between the time points
    return df


ROWS = [
    ("P1", 0, "GTV", 1000.0, -50.0), ("P1", 1, "GTV", 800.0, -25.0), ("P1", 2, "GTV", 500.0, 0.0),
    ("P2", 0, "GTV", 2000.0, 0.0), ("P2", 1, "GTV", 2000.0, 10.0), ("P2", 2, "GTV", 2500.0, 0.0),
]


def test_absolute_and_relative_change_first_to_last_by_default():
    out = delta_features(_table(ROWS))
    assert list(out["patient_id"]) == ["P1", "P2"]
    assert list(out["baseline_timepoint"]) == ["0", "0"] and list(out["followup_timepoint"]) == ["2", "2"]
    assert list(out["baseline_case_id"]) == ["P1_0", "P2_0"] and list(out["followup_case_id"]) == ["P1_2", "P2_2"]
    np.testing.assert_allclose(out["morphology_volume_delta"], [-500.0, 500.0])
    np.testing.assert_allclose(out["morphology_volume_delta_rel"], [-0.5, 0.25])
    # a negative baseline: (F1 - F0) / |F0|, so a rise is positive (-50 -> 0 HU: +1)
    np.testing.assert_allclose(out["statistics_mean_delta"], [50.0, 0.0])
    np.testing.assert_allclose(out["statistics_mean_delta_rel"], [1.0, 0.0])  # 0 -> 0: no change
    assert list(out["outcome"]) == [1, 0]  # the same at both time points: carried
    assert "scanner" not in out.columns and out.attrs["delta"]["dropped_columns"] == ["scanner"]
    assert out.attrs["delta"]["timepoints"] == ["0", "1", "2"]


def test_zero_baseline_relative_change_is_undefined_and_reported():
    with pytest.warns(VoxelomicsWarning, match="relative change undefined .*statistics_mean"):
        out = delta_features(_table(ROWS), baseline=0, followup=1)
    np.testing.assert_allclose(out["statistics_mean_delta"], [25.0, 10.0])
    assert out["statistics_mean_delta_rel"].iloc[0] == pytest.approx(0.5)
    assert np.isnan(out["statistics_mean_delta_rel"].iloc[1])  # 0 -> 10: undefined, not inf
    assert out.attrs["delta"]["undefined_relative"] == {"statistics_mean": 1}
    sym = delta_features(_table(ROWS), baseline=0, followup=1, relative="symmetric")
    # (F1 - F0) / ((|F0| + |F1|) / 2): 25 / 37.5, and 10 / 5 = 2 (the bound)
    np.testing.assert_allclose(sym["statistics_mean_delta_rel"], [25 / 37.5, 2.0])
    np.testing.assert_allclose(sym["morphology_volume_delta_rel"], [-200 / 900, 0.0])


def test_time_points_are_ordered_as_numbers_dates_or_natural_text():
    assert timepoint_order([10, 2, 1]) == [1, 2, 10]
    assert timepoint_order(["10", "9"]) == ["9", "10"]
    assert timepoint_order(["20200105", "2019-12-30"]) == ["2019-12-30", "20200105"]
    assert timepoint_order(["T10", "T2", "T1", None, ""]) == ["T1", "T2", "T10"]
    rows = [(p, f"T{t}", r, v, m) for p, t, r, v, m in ROWS]
    rows = [r for r in rows if r[1] != "T1"] + [("P1", "T10", "GTV", 1.0, 1.0), ("P2", "T10", "GTV", 2.0, 2.0)]
    with pytest.warns(VoxelomicsWarning, match="relative change undefined"):
        out = delta_features(_table(rows))
    assert out.attrs["delta"]["baseline"] == "T0" and out.attrs["delta"]["followup"] == "T10"


def test_a_patient_without_a_time_point_is_named_or_left_out_on_request():
    rows = [r for r in ROWS if not (r[0] == "P2" and r[1] == 2)] + [("P3", 2, "GTV", 1.0, 1.0)]
    with pytest.raises(InputError, match=r"2 patient\(s\) lack a time point: \['P2', 'P3'\]: patient 'P2' ROI "
                                         r"'GTV' lacks the follow-up 2; patient 'P3' ROI 'GTV' lacks the baseline 0"):
        delta_features(_table(rows))
    with pytest.warns(VoxelomicsWarning, match="left out 2 patient/ROI pair"):
        out = delta_features(_table(rows), drop_incomplete=True)
    assert list(out["patient_id"]) == ["P1"]
    assert [i["patient_id"] for i in out.attrs["delta"]["incomplete"]] == ["P2", "P3"]


def test_rois_and_regions_pair_by_name_within_a_patient():
    rows = ROWS + [("P1", 0, "GTV_ring0-5mm", 300.0, 20.0), ("P1", 2, "GTV_ring0-5mm", 330.0, 30.0)]
    rows += [("P2", 0, "GTV_ring0-5mm", 1.0, 1.0), ("P2", 2, "GTV_ring0-5mm", 1.0, 1.0)]
    out = delta_features(_table(rows))
    ring = out[out["roi"] == "GTV_ring0-5mm"].set_index("patient_id")
    assert ring.loc["P1", "morphology_volume_delta"] == 30.0
    assert ring.loc["P1", "morphology_volume_delta_rel"] == pytest.approx(0.1)
    assert len(out) == 4


def test_two_rows_for_one_time_point_and_bad_options_are_refused():
    with pytest.raises(InputError, match=r"two rows for patient 'P1', ROI 'GTV'.*time point 0"):
        delta_features(_table(ROWS + [("P1", 0, "GTV", 1.0, 1.0)]))
    with pytest.raises(SettingsError, match=r"baseline time point 'T9' is not in .*\[0, 1, 2\]"):
        delta_features(_table(ROWS), baseline="T9")
    with pytest.raises(SettingsError, match="the same time point"):
        delta_features(_table(ROWS), baseline="1", followup=1)
    with pytest.raises(SettingsError, match="relative must be"):
        delta_features(_table(ROWS), relative="percent")
    with pytest.raises(InputError, match=r"lacks the column\(s\) \['timepoint'\]"):
        delta_features(_table(ROWS).drop(columns="timepoint"))
    with pytest.raises(InputError, match="needs two time points"):
        delta_features(_table(ROWS[:1]))


def test_command_writes_parquet_with_its_record(tmp_path):
    src = tmp_path / "features.parquet"
    _table(ROWS).to_parquet(src)
    out = tmp_path / "d" / "delta.parquet"
    res = CliRunner().invoke(app, ["delta", str(src), "--out", str(out), "--baseline", "1", "--followup", "2"])
    assert res.exit_code == 0, res.output
    assert "2 patient/ROI pairs" in res.output and "1 -> 2" in res.output
    import pyarrow.parquet as pq

    table = pq.read_table(out)
    record = json.loads(table.schema.metadata[b"voxelomics.delta"])
    assert (record["baseline"], record["followup"], record["relative"]) == ("1", "2", "baseline")
    back = table.to_pandas()
    np.testing.assert_allclose(back["morphology_volume_delta"], [-300.0, 500.0])
    missing = CliRunner().invoke(app, ["delta", str(src.with_name("nope.parquet")), "--out", str(out)])
    assert missing.exit_code == 2 and "feature table not found" in missing.output


def test_api_on_a_csv_table(tmp_path):
    src = tmp_path / "features.csv"
    _table(ROWS).to_csv(src, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = write_delta(src, tmp_path / "delta.parquet")
    assert list(out["patient_id"]) == ["P1", "P2"]


def test_missing_columns_get_advice_that_matches_them():
    with pytest.raises(InputError, match=r"lacks the column\(s\) \['roi', 'image_type'\].*; roi and image_type "
                                         r"are written by voxelomics extract: give its features.parquet") as info:
        delta_features(_table(ROWS).drop(columns=["roi", "image_type"], errors="ignore"))
    assert "patient_id" not in info.value.message
    with pytest.raises(InputError, match=r"add timepoint column\(s\) to the manifest"):
        delta_features(_table(ROWS).drop(columns="timepoint"))
