"""Peritumoral rings on the physical grid, checked against a brute-force computation in mm.

The expected rings are computed here independently of :func:`distance_to_region_sq` (a
separable min-convolution): for every offset between two voxels, the displacement of their
centres is taken in patient coordinates (``Grid.index_to_physical``, direction cosines
included), projected on the image axes, and the distance from one voxel's centre to the other
voxel's box (or centre) is computed in mm; the ring is the union of the contour shifted by
every offset within the thickness. That is the definition, voxel pair by voxel pair.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from testdata import DATA, shared_data_dir
from voxelomics.errors import EmptyRoiError, GeometryError, RoiWarning, SettingsError
from voxelomics.preprocess.roi import (
    body_mask,
    distance_to_region_sq,
    peritumoral_ring,
    ring_suffix,
)
from voxelomics.volume import Grid, RoiMask, Volume


# ---- the independent computation ---------------------------------------------------------
def _offset_distances(grid: Grid, window: tuple[int, int, int], *, to_box: bool):
    """Distance (mm) between a voxel centre and the voxel at each offset: its box or centre."""
    ranges = [np.arange(-w, w + 1) for w in window]
    offsets = np.stack(np.meshgrid(*ranges, indexing="ij"), axis=-1).reshape(-1, 3)  # (z, y, x)
    origin = grid.index_to_physical(np.zeros((1, 3)))[0]
    disp = grid.index_to_physical(offsets.astype(float)) - origin  # patient mm (x, y, z)
    along = np.abs(disp @ np.asarray(grid.direction))  # mm along the image axes (x, y, z)
    if to_box:
        half = np.asarray(grid.spacing_mm, float)[::-1] / 2.0
        along = np.maximum(0.0, along - half) * (np.abs(offsets[:, ::-1]) > 0)
    return offsets, np.sqrt((along ** 2).sum(axis=1))


def brute_force_ring(volume: Volume, mask: RoiMask, outside_mm: float, *, to_box: bool = True):
    """Voxels outside the contour within ``outside_mm`` of a contour voxel (box or centre)."""
    spacing = np.asarray(volume.spacing_mm)
    window = tuple(int(np.ceil(outside_mm / s + 1)) for s in spacing)
    offsets, dist = _offset_distances(volume.grid, window, to_box=to_box)
    keep = offsets[dist <= outside_mm + 1e-6]
    m = mask.array
    pad = np.pad(m, [(w, w) for w in window])  # room for the ring beyond the image
    zs, ys, xs = np.nonzero(pad)
    near = tuple(slice(int(a.min()) - w, int(a.max()) + w + 1)  # contour box + window
                 for a, w in zip((zs, ys, xs), window, strict=True))
    sub = pad[near]
    out = np.zeros_like(sub)
    for dz, dy, dx in keep:
        src = sub[max(0, -dz):sub.shape[0] - max(0, dz), max(0, -dy):sub.shape[1] - max(0, dy),
                  max(0, -dx):sub.shape[2] - max(0, dx)]
        out[max(0, dz):sub.shape[0] - max(0, -dz), max(0, dy):sub.shape[1] - max(0, -dy),
            max(0, dx):sub.shape[2] - max(0, -dx)] |= src
    grown = np.zeros_like(pad)
    grown[near] = out
    inside = tuple(slice(w, w + n) for w, n in zip(window, m.shape, strict=True))
    beyond = grown.copy()
    beyond[inside] = False  # the part of the ring beyond the image
    return grown[inside] & ~m, beyond


def _first_layer(mask: np.ndarray) -> int:
    """Voxels touching the contour (26-neighbourhood): one voxel layer."""
    from scipy import ndimage

    return int(np.count_nonzero(ndimage.binary_dilation(mask, np.ones((3, 3, 3), bool)) & ~mask))


def _sts(modality: str):
    from voxelomics.io import load_case

    for base in ([shared_data_dir() / "cases"] if shared_data_dir() else []) + [DATA / "cases"]:
        image = base / f"sts_001_{modality}_image.nii.gz"
        if image.is_file():
            return load_case(image, base / f"sts_001_{modality}_mask.nii.gz")
    pytest.skip(f"sts_001 {modality} is not available")


# ---- naming and the distance kernel -----------------------------------------------------
def test_ring_names_say_the_band_in_mm():
    assert ring_suffix(5) == "ring0-5mm"
    assert ring_suffix(5, 2) == "ring-2-5mm"
    assert ring_suffix(0, 3) == "ring-3-0mm"
    assert ring_suffix(7.5) == "ring0-7.5mm"


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (3.27, 0.977, 0.977), (2.0, 4.7, 1.3)])
def test_distance_to_region_matches_brute_force_on_random_regions(spacing):
    rng = np.random.default_rng(int(spacing[0] * 100))
    region = rng.random((7, 9, 8)) < 0.04
    region[3, 4, 4] = True
    got = distance_to_region_sq(region, spacing, max_mm=100.0)
    sp = np.asarray(spacing)
    idx = np.argwhere(np.ones(region.shape, bool))
    src = np.argwhere(region)
    delta = np.abs(idx[:, None, :] - src[None, :, :]).astype(float)  # voxels (z, y, x)
    gap = np.maximum(0.0, delta - 0.5) * sp * (delta > 0)
    expected = (gap ** 2).sum(axis=2).min(axis=1).reshape(region.shape)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_anisotropic_voxels_get_the_same_thickness_in_mm_along_every_axis():
    # one voxel of 3 x 1 x 1 mm; a 3 mm ring reaches the voxels whose centres lie within
    # 3 mm of its box: 1 slice along z ((1 - 0.5) * 3 = 1.5 mm; the next is 4.5 mm away)
    # and 3 voxels along y and x ((3 - 0.5) * 1 = 2.5 mm; the fourth is 3.5 mm away)
    shape = (9, 15, 15)
    m = np.zeros(shape, bool)
    m[4, 7, 7] = True
    vol = Volume(np.zeros(shape), (3.0, 1.0, 1.0))
    ring, report = peritumoral_ring(vol, RoiMask(m, (3.0, 1.0, 1.0)), outside_mm=3.0)
    z, y, x = np.nonzero(ring.array)
    assert (z.min(), z.max()) == (3, 5)
    assert (y.min(), y.max()) == (4, 10) and (x.min(), x.max()) == (4, 10)
    assert report.n_voxels == np.count_nonzero(ring.array) and not (ring.array & m).any()
    assert ring.name == "roi_ring0-3mm"


# ---- the bundled CT, MR and PET tumours --------------------------------------------------
@pytest.mark.parametrize("modality", ["ct", "mr_t1", "pet_suv"])
@pytest.mark.parametrize("outside_mm", [3.0, 5.0, 10.0])
def test_rings_around_bundled_tumours_equal_the_brute_force_on_the_physical_grid(modality, outside_mm):
    volume, mask = _sts(modality)
    ring, report = peritumoral_ring(volume, mask, outside_mm=outside_mm)
    expected, beyond = brute_force_ring(volume, mask, outside_mm)
    assert not beyond.any()  # these crops leave 39 mm or more around the tumour
    voxel_mm3 = float(np.prod(volume.spacing_mm))
    # the same voxels as the definition computed pair by pair in patient mm
    assert np.array_equal(ring.array, expected)
    assert report.volume_mm3 == pytest.approx(np.count_nonzero(expected) * voxel_mm3)
    assert not (ring.array & mask.array).any()  # never overlaps the tumour
    assert report.cut_at_edge_mm3 == 0 and report.cut_edges == ()
    # within one voxel layer of the dilation between voxel centres (the other usual definition)
    centre, _ = brute_force_ring(volume, mask, outside_mm, to_box=False)
    assert centre.sum() <= ring.array.sum() <= centre.sum() + _first_layer(mask.array)


def test_rings_of_an_oblique_image_are_measured_along_its_own_axes():
    volume, mask = _sts("pet_suv")
    angle = np.deg2rad(30)
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    tilted_v = Volume(volume.array, volume.spacing_mm, volume.origin_mm, rot)
    tilted_m = RoiMask(mask.array, mask.spacing_mm, mask.origin_mm, rot)
    ring, _ = peritumoral_ring(tilted_v, tilted_m, outside_mm=10.0)
    expected, _ = brute_force_ring(tilted_v, tilted_m, 10.0)  # physical coordinates, rotated
    assert np.array_equal(ring.array, expected)
    assert np.array_equal(ring.array, peritumoral_ring(volume, mask, outside_mm=10.0)[0].array)


def _crop(volume: Volume, mask: RoiMask, box):
    start = np.array([[b.start or 0 for b in box]], float)
    origin = tuple(volume.grid.index_to_physical(start)[0])
    return (Volume(volume.array[box], volume.spacing_mm, origin, volume.direction),
            RoiMask(mask.array[box], mask.spacing_mm, origin, mask.direction))


def test_a_ring_beyond_the_image_edge_is_cut_with_a_warning_and_recorded():
    volume, mask = _sts("ct")  # tumour columns 52..145: cut the image 2 columns before it
    box = (slice(None), slice(None), slice(50, None))
    cut_v, cut_m = _crop(volume, mask, box)
    with pytest.warns(RoiWarning, match=r"ring0-10mm.*cut at the image edge \(x-\).*% of the ring"):
        ring, report = peritumoral_ring(cut_v, cut_m, outside_mm=10.0)
    full, _ = peritumoral_ring(volume, mask, outside_mm=10.0)
    voxel_mm3 = float(np.prod(volume.spacing_mm))
    assert np.array_equal(ring.array, full.array[box])  # the part inside the image, unchanged
    lost = np.count_nonzero(full.array[:, :, :50])
    assert report.cut_at_edge_mm3 == pytest.approx(lost * voxel_mm3)
    assert report.cut_edges == ("x-",)
    assert report.cut_fraction == pytest.approx(lost / np.count_nonzero(full.array))
    expected, beyond = brute_force_ring(cut_v, cut_m, 10.0)
    assert np.array_equal(ring.array, expected) and np.count_nonzero(beyond) == lost


def test_no_warning_when_the_ring_fits():
    volume, mask = _sts("pet_suv")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        peritumoral_ring(volume, mask, outside_mm=10.0)


# ---- inner rim, clipping, errors --------------------------------------------------------
def _ball(shape=(15, 21, 21), spacing=(2.0, 1.0, 1.0), radius=6.0):
    zz, yy, xx = np.indices(shape).astype(float)
    c = [(n - 1) / 2 for n in shape]
    r = np.sqrt(((zz - c[0]) * spacing[0]) ** 2 + ((yy - c[1]) * spacing[1]) ** 2
                + ((xx - c[2]) * spacing[2]) ** 2)
    return r <= radius, spacing


def test_inner_rim_is_the_contour_voxels_near_its_surface():
    m, spacing = _ball()
    vol = Volume(np.zeros(m.shape), spacing)
    ring, report = peritumoral_ring(vol, RoiMask(m, spacing), outside_mm=0.0, inside_mm=2.0)
    outside_of_ball, _ = brute_force_ring(vol, RoiMask(~m, spacing), 2.0)  # the rim, seen from outside
    assert np.array_equal(ring.array, outside_of_ball)
    assert (ring.array <= m).all() and report.name == "ring-2-0mm"
    both, _ = peritumoral_ring(vol, RoiMask(m, spacing), outside_mm=3.0, inside_mm=2.0)
    out_only, _ = peritumoral_ring(vol, RoiMask(m, spacing), outside_mm=3.0)
    assert np.array_equal(both.array, ring.array | out_only.array)


def test_body_clip_removes_the_air_around_the_patient_but_keeps_enclosed_air():
    shape, spacing = (9, 30, 30), (2.0, 1.0, 1.0)
    img = np.full(shape, -1000.0)
    img[:, 5:25, 5:25] = 40.0  # the patient
    img[:, 14:17, 18:21] = -950.0  # air enclosed in the body (bowel gas)
    img[:, 27:29, 5:25] = 60.0  # the couch, apart from the patient
    m = np.zeros(shape, bool)
    m[3:6, 12:19, 19:24] = True  # a tumour 1 voxel from the skin at x = 24
    vol, roi = Volume(img, spacing), RoiMask(m, spacing)
    plain, _ = peritumoral_ring(vol, roi, outside_mm=4.0)
    clipped, report = peritumoral_ring(vol, roi, outside_mm=4.0, body_threshold=-300.0)
    body = np.zeros(shape, bool)
    body[:, 5:25, 5:25] = True
    assert np.array_equal(clipped.array, plain.array & body)
    assert clipped.array[:, 14:17, 18].any()  # the enclosed air next to the tumour stays
    assert report.removed_outside_body_mm3 == pytest.approx(np.count_nonzero(plain.array & ~body) * 2.0)
    np.testing.assert_array_equal(body_mask(img, -300.0, roi=m), body)
    np.testing.assert_array_equal(body_mask(img, -300.0), body)  # the largest part without an ROI


def test_intensity_range_keeps_the_tissue_range_only():
    m, spacing = _ball()
    rng = np.random.default_rng(0)
    img = rng.normal(0, 100, m.shape)
    vol, roi = Volume(img, spacing), RoiMask(m, spacing)
    plain, _ = peritumoral_ring(vol, roi, outside_mm=3.0)
    soft, report = peritumoral_ring(vol, roi, outside_mm=3.0, intensity_range=(-100.0, None))
    assert np.array_equal(soft.array, plain.array & (img >= -100))
    assert report.removed_outside_range_mm3 == pytest.approx(
        np.count_nonzero(plain.array & (img < -100)) * 2.0)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"outside_mm": -1.0}, "outside_mm must be a finite number"),
    ({"outside_mm": 0.0}, "needs outside_mm > 0 or inside_mm > 0"),
    ({"outside_mm": float("nan")}, "outside_mm must be a finite"),
    ({"outside_mm": 5.0, "intensity_range": (10.0, 0.0)}, "must not exceed"),
])
def test_bad_ring_arguments_are_settings_errors(kwargs, match):
    m, spacing = _ball()
    with pytest.raises(SettingsError, match=match):
        peritumoral_ring(Volume(np.zeros(m.shape), spacing), RoiMask(m, spacing), **kwargs)


def test_a_ring_with_no_voxel_left_names_why():
    m, spacing = _ball()
    vol = Volume(np.full(m.shape, -1000.0), spacing)
    with pytest.raises(EmptyRoiError, match=r"ring 'ring0-3mm': no ring voxel is left \(.*outside the intensity"):
        peritumoral_ring(vol, RoiMask(m, spacing), outside_mm=3.0, intensity_range=(-100.0, 100.0),
                         case_id="P1")


def test_grids_must_agree():
    m, spacing = _ball()
    with pytest.raises(GeometryError, match="grids differ"):
        peritumoral_ring(Volume(np.zeros(m.shape), spacing), RoiMask(m, (1.0, 1.0, 1.0)), outside_mm=3.0)
