"""The crop margin is a speed setting: no feature depends on it (issue 10, item 1)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from voxelomics.extract import extract_features
from voxelomics.extract.case import crop_margin_mm, required_margin_mm
from voxelomics.io import align_mask, read_image, read_mask
from voxelomics.io.reference import bundled_data_dir, ibsi1_dir
from voxelomics.settings import Settings
from voxelomics.volume import RoiMask, Volume


def _ct_sphere():
    """A 12 mm sphere at the centre of a 100 mm box of the IBSI CT phantom (real CT texture)."""
    ct = read_image(ibsi1_dir() / "ct_phantom/nifti/image/phantom.nii.gz")
    sp = np.asarray(ct.spacing_mm)
    centre = np.asarray(ct.shape) // 2
    half = np.round(50 / sp).astype(int)
    arr = ct.array[tuple(slice(c - h, c + h) for c, h in zip(centre, half, strict=True))]
    axes = [(np.arange(n) - n / 2 + 0.5) * s for n, s in zip(arr.shape, sp, strict=True)]
    zz, yy, xx = np.meshgrid(*axes, indexing="ij")
    return Volume(arr, ct.spacing_mm, modality="CT"), RoiMask(zz**2 + yy**2 + xx**2 <= 12**2, ct.spacing_mm), "CT"


def _brain():
    """The bundled MR brain case: 6.5 mm slices, the ROI 24 mm or more from every border."""
    image = read_image(bundled_data_dir() / "cases/brain2_image.nrrd")
    return image, align_mask(image, read_mask(bundled_data_dir() / "cases/brain2_label.nrrd",
                                              reference=image)), "MR"


CASES = {"ct_sphere": _ct_sphere, "brain2": _brain}


def _same(a: dict, b: dict) -> list[str]:
    """Features that differ beyond floating-point rounding (1e-12 relative)."""
    return [k for k in b if not (np.isnan(a[k]) and np.isnan(b[k]))
            and not np.isclose(a[k], b[k], rtol=1e-12, atol=0.0)]


@pytest.mark.parametrize("preset", ["default", "ibsi-a", "ibsi-e"])  # linear 2 mm / none / B-spline
@pytest.mark.parametrize("case", list(CASES))
def test_every_feature_is_the_same_for_margins_0_5_and_50_mm(case, preset):
    """Before: a 0 mm margin cut the 1 cm³ local-intensity sphere (local peaks 0.2-6.5 % off).

    Floating-point rounding aside (coordinates relative to another crop corner: < 1e-12),
    every feature of every family is the same.
    """
    volume, mask, modality = CASES[case]()
    out = {}
    for margin in (0.0, 5.0, 50.0):
        settings = Settings.from_dict({"preset": preset, "crop_margin_mm": margin})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # the IBSI presets are made for CT: the MR case goes without its modality there
            given = modality if preset == "default" or modality == "CT" else None
            out[margin] = extract_features(volume, mask, settings, modality=given)
    assert any(k.startswith("local_intensity") for k in out[50.0])
    assert _same(out[0.0], out[50.0]) == []
    assert _same(out[5.0], out[50.0]) == []


def test_the_required_margin_is_the_maximum_of_all_needs():
    from voxelomics.features.local_intensity import RADIUS_MM

    spacing = (3.0, 1.0, 1.0)
    plain = Settings.from_dict({"preset": "ibsi-a", "crop_margin_mm": 0})
    assert required_margin_mm(plain, spacing) == pytest.approx(RADIUS_MM)
    no_li = Settings.from_dict({"preset": "ibsi-a", "families": ["glcm"]})
    assert required_margin_mm(no_li, spacing) == 0.0
    linear = Settings.from_dict({"preset": "ibsi-c", "crop_margin_mm": 0})  # 2 mm, linear
    assert required_margin_mm(linear, spacing) == pytest.approx(RADIUS_MM + 2 * 3.0 + 3 * 2.0)
    assert crop_margin_mm(linear, spacing) == required_margin_mm(linear, spacing)
    wide = Settings.from_dict({"preset": "ibsi-c", "crop_margin_mm": 80})
    assert crop_margin_mm(wide, spacing) == 80.0  # the setting may widen the crop
