"""Families computed in a thread pool give exactly the serial result (values and order)."""

import inspect
import math

import pytest

import voxelomics.extract.families as families
import voxelomics.extract.pipeline as ex
from voxelomics import extract_features
from voxelomics.errors import FeatureError, SettingsError
from voxelomics.io.reference import ibsi1_dir
from voxelomics.settings import Settings

CT = ibsi1_dir() / "ct_phantom" / "nifti"
DIG = ibsi1_dir() / "digital_phantom"


def _same(a: dict, b: dict) -> None:
    assert list(a) == list(b)  # same names in the same order
    for k in a:
        assert (math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k], k  # bit-identical


def test_threaded_ct_phantom_is_bit_identical_to_serial():
    """ibsi-c on the CT phantom (46k voxels, above the threshold): every family in threads."""
    img, msk = CT / "image/phantom.nii.gz", CT / "mask/mask.nii.gz"
    serial = extract_features(img, msk, "ibsi-c", n_threads=1)
    assert len(serial) > 200
    _same(serial, extract_features(img, msk, "ibsi-c", n_threads=2))
    _same(serial, extract_features(img, msk, "ibsi-c", n_threads=4))


def test_threaded_small_roi_with_2d_and_3d_zones(monkeypatch):
    """The digital phantom (2D and 3D aggregations, both zone labellings), pool forced on."""
    img, msk = DIG / "image/phantom.nii.gz", DIG / "mask/mask.nii.gz"
    serial = extract_features(img, msk, "ibsi-digital", n_threads=1)
    monkeypatch.setattr(families, "PARALLEL_MIN_VOXELS", 0)
    _same(serial, extract_features(img, msk, "ibsi-digital", n_threads=3))
    _same(serial, extract_features(img, msk, "ibsi-digital"))  # None: min(4, cpu_count)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_thread_count_is_refused(bad):
    with pytest.raises(SettingsError, match="n_threads must be a positive integer or None, got"):
        extract_features(DIG / "image/phantom.nii.gz", DIG / "mask/mask.nii.gz", "ibsi-digital", n_threads=bad)


def test_failure_in_a_thread_names_the_family(monkeypatch):
    from voxelomics.features import ngtdm

    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(families, "PARALLEL_MIN_VOXELS", 0)
    monkeypatch.setattr(ngtdm, "compute", broken)
    settings = Settings.from_dict({"preset": "ibsi-digital"})
    with pytest.raises(FeatureError, match="ngtdm failed: ZeroDivisionError: boom"):
        extract_features(DIG / "image/phantom.nii.gz", DIG / "mask/mask.nii.gz", settings, n_threads=2)


def test_cohort_row_function_defaults_to_one_thread():
    """Cohort workers run one case per core: extract_case must not add threads by default."""
    assert inspect.signature(ex.extract_case).parameters["n_threads"].default == 1
    assert inspect.signature(ex.extract_features).parameters["n_threads"].default is None


def test_early_mask_path_falls_back_when_the_mask_grid_is_only_nearly_the_same(tmp_path):
    """A mask shifted by 1e-5 voxel is given the image grid (warning); the early mask-only
    morphology must then be recomputed on the aligned mask, giving the serial values."""
    import warnings

    import SimpleITK as sitk

    from voxelomics import extract_features
    from voxelomics.io.reference import ibsi1_dir

    ct = ibsi1_dir() / "ct_phantom/nifti"
    msk = sitk.ReadImage(str(ct / "mask/mask.nii.gz"))
    origin = list(msk.GetOrigin())
    origin[0] += 1e-5 * msk.GetSpacing()[0]
    msk.SetOrigin(origin)
    sitk.WriteImage(msk, str(tmp_path / "nearly.nii.gz"))
    settings = {"preset": "ibsi-c", "families": ["morphology", "statistics"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        threaded = extract_features(ct / "image/phantom.nii.gz", tmp_path / "nearly.nii.gz", settings, n_threads=2)
        serial = extract_features(ct / "image/phantom.nii.gz", ct / "mask/mask.nii.gz", settings, n_threads=1)
    assert threaded == serial


def test_errors_keep_their_order_with_the_early_mask_path(tmp_path):
    """An unreadable image is reported before an unreadable mask, as in the serial path."""
    import pytest

    from voxelomics import extract_features
    from voxelomics.errors import InputError

    (tmp_path / "img.nii.gz").write_bytes(b"not an image")
    (tmp_path / "msk.nii.gz").write_bytes(b"not a mask")
    for n in (1, 2):
        with pytest.raises(InputError, match="img.nii.gz"):
            extract_features(tmp_path / "img.nii.gz", tmp_path / "msk.nii.gz", "ibsi-c", n_threads=n)
