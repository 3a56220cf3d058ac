"""QC measurements and flags (hand-built volumes) and the cached QC of real bundled cases."""

from __future__ import annotations

import numpy as np
import pytest

from testdata import DATA
from voxelomics.io.manifest import Case
from voxelomics.report.qc import QCSettings, qc_metrics, read_qc, run_qc
from voxelomics.settings import ResegmentationSettings, load_preset


def _cube(shape=(40, 40, 40), lo=10, hi=30):
    mask = np.zeros(shape, bool)
    mask[lo:hi, lo:hi, lo:hi] = True
    return mask


def codes(m):
    return sorted(f["code"] for f in m["flags"])


def test_a_central_cube_is_not_flagged():
    mask = _cube()
    m = qc_metrics(np.zeros(mask.shape), mask, (1.0, 1.0, 1.0), target_spacing_mm=(2.0, 2.0, 2.0))
    assert codes(m) == []
    assert m["n_voxels"] == 20**3 and m["volume_mm3"] == pytest.approx(8000.0)
    assert m["touches_edge"] == "" and m["spacing_ratio"] == 1.0
    assert (m["extent_z_mm"], m["extent_y_mm"], m["extent_x_mm"]) == (20.0, 20.0, 20.0)


def test_edge_flag_names_the_faces():
    mask = _cube()
    mask[0:5, 10:20, 35:40] = True  # reaches z = 0 and the last x column
    m = qc_metrics(np.zeros(mask.shape), mask, (1.0, 1.0, 1.0))
    assert codes(m) == ["edge"]
    assert m["touches_edge"] == "z- x+"


def test_small_roi_flag_by_volume_and_by_voxels():
    mask = _cube(lo=18, hi=22)  # 64 voxels of 1 mm^3
    assert "small" in codes(qc_metrics(np.zeros(mask.shape), mask, (1.0, 1.0, 1.0)))  # < 1000 mm^3
    big_voxels = qc_metrics(np.zeros(mask.shape), mask, (3.0, 3.0, 3.0))  # 1728 mm^3, 64 voxels
    assert "small" not in codes(big_voxels)
    few = _cube(lo=18, hi=21)  # 27 voxels of 64 mm^3 = 1728 mm^3 but fewer than 64 voxels
    assert "small" in codes(qc_metrics(np.zeros(few.shape), few, (4.0, 4.0, 4.0)))
    lenient = QCSettings(min_roi_volume_mm3=10, min_roi_voxels=10)
    assert "small" not in codes(qc_metrics(np.zeros(mask.shape), mask, (1.0, 1.0, 1.0), settings=lenient))


def test_thin_flag_when_the_roi_is_thinner_than_the_resampling():
    mask = np.zeros((3, 50, 50), bool)
    mask[1, 10:40, 10:40] = True  # one 1 mm slice of a 3-slice series
    m = qc_metrics(np.zeros(mask.shape), mask, (1.0, 0.7, 0.7), target_spacing_mm=(2.0, 2.0, 2.0))
    assert "thin" in codes(m)
    assert "z: 1 mm < 2 mm" in next(f["message"] for f in m["flags"] if f["code"] == "thin")
    thick = _cube()
    assert "thin" not in codes(qc_metrics(np.zeros(thick.shape), thick, (1.0, 1.0, 1.0),
                                          target_spacing_mm=(2.0, None, 2.0)))


def test_resegmentation_flag_counts_the_voxels_removed():
    mask = _cube()
    image = np.full(mask.shape, 50.0)
    image[10:22, 10:30, 10:30] = 900.0  # 60 % of the ROI above a 400 HU range
    reseg = ResegmentationSettings(range_min=-1000, range_max=400)
    m = qc_metrics(image, mask, (1.0, 1.0, 1.0), resegmentation=reseg)
    assert m["resegmented_fraction"] == pytest.approx(0.6)
    assert codes(m) == ["resegmented"]
    image[10:22, 10:30, 10:30] = 300.0
    assert qc_metrics(image, mask, (1.0, 1.0, 1.0), resegmentation=reseg)["resegmented_fraction"] == 0


def test_anisotropic_flag():
    mask = _cube()
    m = qc_metrics(np.zeros(mask.shape), mask, (5.0, 0.7, 0.7))
    assert codes(m) == ["anisotropic"]
    assert m["spacing_ratio"] == pytest.approx(5 / 0.7)
    assert "anisotropic" not in codes(qc_metrics(np.zeros(mask.shape), mask, (5.0, 0.7, 0.7),
                                                 settings=QCSettings(max_spacing_ratio=10)))


def test_run_qc_on_real_cases_caches_thumbnails(tmp_path):
    cases_dir = DATA / "cases"
    cases = [Case("sts_ct", cases_dir / "sts_001_ct_image.nii.gz", cases_dir / "sts_001_ct_mask.nii.gz", 1, None, "CT"),
             Case("sts_pet", cases_dir / "sts_001_pet_suv_image.nii.gz", cases_dir / "sts_001_pet_suv_mask.nii.gz",
                  1, None, "PT"),
             Case("breast1", cases_dir / "breast1_image.nrrd", cases_dir / "breast1_label.nrrd", 1, None, "MR"),
             Case("missing", cases_dir / "no_such_image.nii.gz", cases_dir / "sts_001_ct_mask.nii.gz", 1, None, "CT")]
    table = run_qc(cases, tmp_path / "qc", extraction_settings=load_preset("default"))
    assert list(table["case_id"]) == ["sts_ct", "sts_pet", "breast1", "missing"]
    ok = table.set_index("case_id")
    assert ok.loc["sts_ct", "n_voxels"] == 117145  # data/README: GTV_Mass, 117 145 voxels
    assert ok.loc["sts_pet", "n_voxels"] == 5095
    assert "anisotropic" in [f["code"] for f in ok.loc["sts_ct", "flags"]]  # 3.27 / 0.98 mm
    assert "small" in [f["code"] for f in ok.loc["breast1", "flags"]]  # 143 voxels, 132 mm^3
    assert "does not exist" in ok.loc["missing", "error"] or "not found" in ok.loc["missing", "error"].lower()
    for case in ("sts_ct", "sts_pet", "breast1"):
        assert (tmp_path / "qc" / "cases" / ok.loc[case, "thumbnail"]).is_file()
    assert not table["cached"].any()
    again = run_qc(cases, tmp_path / "qc", extraction_settings=load_preset("default"))
    assert again["cached"].all()
    back = read_qc(tmp_path / "qc")
    assert [len(f) for f in back["flags"]] == [len(f) for f in table["flags"]]
    changed = run_qc(cases[:1], tmp_path / "qc", extraction_settings=load_preset("default"),
                     settings=QCSettings(max_spacing_ratio=5))
    assert not changed["cached"].any()  # other thresholds: measured and drawn again


def test_the_qc_progress_bar_writes_nothing_when_output_is_not_a_terminal(tmp_path, capfd):
    """A transient rich bar on a pipe or file leaves an empty line (seen after the demo's qc steps)."""
    case = Case("missing", DATA / "cases" / "no_such_image.nii.gz", DATA / "cases" / "sts_001_ct_mask.nii.gz",
                1, None, "CT")  # fails at once: the bar is all there is to write
    capfd.readouterr()
    table = run_qc([case], tmp_path / "qc", extraction_settings=load_preset("default"), progress=True)
    assert table["error"].iloc[0] != ""
    out, err = capfd.readouterr()
    assert out == "" and err == ""
