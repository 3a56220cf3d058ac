"""Morphological features: IBSI-1 reference values, hand-computable shapes, invariances, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from _helpers import to_ibsi
from scipy.spatial import ConvexHull
from scipy.spatial.transform import Rotation
from scipy.special import eval_legendre

from testdata import IBSI1, assert_matches_reference
from voxelomics.errors import (
    ApproximationWarning,
    EmptyRoiError,
    FeatureError,
    GeometryError,
    MaskError,
)
from voxelomics.features import _spatial, morphology
from voxelomics.features._ellipsoid import ellipsoid_surface_area, mvee_semi_axes
from voxelomics.features._mesh import oriented_minimum_bounding_box

TAG = {s.name: s.ibsi_tag for s in morphology.FEATURES}


def _reference_tags(reference: pd.DataFrame, config: str) -> list[str]:
    rows = reference[(reference["config"] == config) & reference["tag"].str.startswith("morph_")]
    return list(rows["tag"])


def _read(path):
    import SimpleITK as sitk

    return sitk.ReadImage(str(path))


def _ct_phantom_config(config: str):
    """CT phantom prepared as IBSI-1 configurations A, B or C describe (image, morph, int, spacing).

    A: no resampling. B: in-plane 2 x 2 mm; C: 2 x 2 x 2 mm; both with a centre-aligned grid
    (size ceil(extent / new spacing)), linear interpolation of image and mask, mask >= 0.5.
    The image is rounded to integer HU; the intensity mask is the mask within the range.
    """
    import SimpleITK as sitk

    img = _read(IBSI1 / "ct_phantom/nifti/image/phantom.nii.gz")
    msk = _read(IBSI1 / "ct_phantom/nifti/mask/mask.nii.gz")
    spacing_xyz = {"A": None, "B": (2.0, 2.0, 3.0), "C": (2.0, 2.0, 2.0)}[config]
    low, high = {"A": (-500, 400), "B": (-500, 400), "C": (-1000, 400)}[config]
    if spacing_xyz is None:
        image = sitk.GetArrayFromImage(img).astype(np.float64)
        mask = sitk.GetArrayFromImage(msk) > 0
    else:
        old_sp, old_n = np.array(img.GetSpacing()), np.array(img.GetSize())
        new_sp = np.array(spacing_xyz)
        new_n = np.ceil(old_n * old_sp / new_sp).astype(int)
        direction = np.array(img.GetDirection()).reshape(3, 3)
        origin = np.array(img.GetOrigin()) + direction @ (((old_n - 1) * old_sp - (new_n - 1) * new_sp) / 2)

        def resample(im, default):
            f = sitk.ResampleImageFilter()
            f.SetOutputSpacing(new_sp.tolist())
            f.SetSize([int(n) for n in new_n])
            f.SetOutputOrigin(origin.tolist())
            f.SetOutputDirection(im.GetDirection())
            f.SetInterpolator(sitk.sitkLinear)
            f.SetDefaultPixelValue(default)
            return sitk.GetArrayFromImage(f.Execute(sitk.Cast(im, sitk.sitkFloat64)))

        image = resample(img, -1000.0)
        mask = resample(msk, 0.0) >= 0.5
    image = np.round(image)
    spacing = tuple(float(s) for s in (spacing_xyz or img.GetSpacing()))[::-1]
    intensity_mask = mask & (image >= low) & (image <= high)
    return image, mask, intensity_mask, spacing


# --------------------------------------------------------------------------- IBSI-1 references


def test_digital_phantom_matches_ibsi(digital_phantom, ibsi_reference):
    image, mask, spacing = digital_phantom
    values = to_ibsi(morphology.compute(mask, mask, image, spacing), morphology)
    tags = _reference_tags(ibsi_reference, "dig")
    assert len(tags) == 25  # 29 features less OMBB and MVEE (no consensus)
    assert_matches_reference(values, ibsi_reference, "dig", tags)


@pytest.mark.ibsi
@pytest.mark.parametrize("config", ["A", "B", "C"])
def test_ct_phantom_matches_ibsi(config, ibsi_reference):
    image, mask, intensity_mask, spacing = _ct_phantom_config(config)
    values = to_ibsi(morphology.compute(mask, intensity_mask, image, spacing), morphology)
    tags = _reference_tags(ibsi_reference, config)
    assert len(tags) >= 24
    assert_matches_reference(values, ibsi_reference, config, tags)


def test_every_ibsi_morphology_tag_has_a_feature():
    ref = pd.read_csv(IBSI1 / "ibsi1_reference_values.csv")
    ref = ref[ref["family"] == "morphology"]
    assert set(ref["tag"]) == set(TAG.values())
    ids = dict(zip(ref["tag"], ref["ibsi_code"], strict=True))
    assert all(ids[s.ibsi_tag] == s.ibsi_id for s in morphology.FEATURES)
    assert len({s.name for s in morphology.FEATURES}) == 29
    no_reference = {s.ibsi_id for s in morphology.FEATURES if not s.ibsi_compliant}
    assert no_reference == {"ZH1A", "IQYR", "SWZ1", "BRI8"}


# --------------------------------------------------------------------------- hand-computable


def test_single_voxel_is_an_octahedron():
    """One voxel: marching cubes at 0.5 gives the octahedron with vertices at the face centres."""
    s = 2.0
    mask = np.zeros((3, 3, 3), bool)
    mask[1, 1, 1] = True
    image = np.full(mask.shape, 5.0)
    v = morphology.compute(mask, mask, image, (s, s, s))
    assert v["morphology_volume"] == pytest.approx(s**3 / 6)  # (4/3) (s/2)^3
    assert v["morphology_surface_area"] == pytest.approx(np.sqrt(3) * s**2)  # 8 (√3/2)(s/√2)^2
    assert v["morphology_volume_voxel"] == pytest.approx(s**3)
    assert v["morphology_maximum_3d_diameter"] == pytest.approx(s)
    assert v["morphology_volume_density_aabb"] == pytest.approx(1 / 6)
    assert v["morphology_volume_density_convex_hull"] == pytest.approx(1.0)
    # the octahedron fits a box tilted onto one of its faces far better than the AABB
    assert v["morphology_volume_density_ombb"] > v["morphology_volume_density_aabb"]
    assert v["morphology_centre_of_mass_shift"] == pytest.approx(0.0)
    assert v["morphology_integrated_intensity"] == pytest.approx(5.0 * s**3 / 6)
    # documented undefined values: PCA needs two voxels, Moran/Geary need pairs
    undefined = {"major_axis_length", "minor_axis_length", "least_axis_length", "elongation",
                 "flatness", "volume_density_aee", "area_density_aee", "morans_i", "gearys_c"}
    for name, value in v.items():
        if name.removeprefix("morphology_") in undefined:
            assert np.isnan(value), name
        else:
            assert np.isfinite(value), name


def test_voxels_touching_at_an_edge_or_corner():
    """Marching cubes gives non-manifold edges here; the mesh is still closed and oriented."""
    from voxelomics.features._mesh import _is_closed_and_oriented, roi_mesh

    mask = np.zeros((3, 3, 3), bool)
    mask[0, 0, 0] = mask[1, 1, 0] = mask[2, 2, 2] = True
    mesh = roi_mesh(mask, (1.0, 1.0, 1.0))
    assert _is_closed_and_oriented(mesh.faces)
    flipped = mesh.faces.copy()
    flipped[0] = flipped[0, ::-1]
    assert not _is_closed_and_oriented(flipped)
    assert not _is_closed_and_oriented(mesh.faces[1:])  # a hole: open mesh
    v = morphology.compute(mask, mask, np.arange(27.0).reshape(3, 3, 3), (1.0, 1.0, 1.0))
    assert v["morphology_volume"] > 0


@pytest.mark.parametrize("method", ["grid", "pairs"])
def test_moran_geary_two_voxels(method):
    """Two neighbours with values 0 and 1: I = -1, C = 1 for any spacing."""
    image = np.array([[[0.0, 1.0]]])
    mask = np.ones_like(image, bool)
    moran, geary = _spatial.moran_geary(image, mask, (1.0, 1.0, 3.0), method=method)
    assert moran == pytest.approx(-1.0)
    assert geary == pytest.approx(1.0)


def test_moran_geary_grid_equals_pairs():
    rng = np.random.default_rng(7)
    shape = (6, 9, 8)
    image = rng.normal(size=shape) + np.linspace(0.0, 3.0, shape[-1])
    mask = rng.random(shape) > 0.3
    spacing = (3.0, 0.8, 0.8)
    grid = _spatial.moran_geary(image, mask, spacing, method="grid")
    pairs = _spatial.moran_geary(image, mask, spacing, method="pairs")
    np.testing.assert_allclose(grid, pairs, rtol=1e-10)


def test_moran_geary_constant_intensity_is_nan():
    mask = np.ones((2, 3, 3), bool)
    assert all(np.isnan(_spatial.moran_geary(np.full(mask.shape, 4.0), mask, (1, 1, 1))))


def test_approximation_warns_when_the_grid_is_too_large(monkeypatch, digital_phantom):
    image, mask, spacing = digital_phantom
    monkeypatch.setattr(_spatial, "GRID_MAX_ELEMENTS", 0)
    with pytest.warns(ApproximationWarning, match="sub-samples of 20 voxels"):
        v = morphology.compute(mask, mask, image, spacing, spatial_exact_max_voxels=20, seed=3)
    assert np.isfinite(v["morphology_morans_i"]) and np.isfinite(v["morphology_gearys_c"])
    # at or below the voxel limit the explicit pair sums are exact: no warning, same value
    with warnings.catch_warnings():
        warnings.simplefilter("error", ApproximationWarning)
        exact = morphology.compute(mask, mask, image, spacing, spatial_exact_max_voxels=100)
    monkeypatch.undo()
    grid = morphology.compute(mask, mask, image, spacing)
    assert exact["morphology_morans_i"] == pytest.approx(grid["morphology_morans_i"], rel=1e-10)


def test_ellipsoid_area_series():
    """IBSI series: exact for a sphere; otherwise equal to the formula evaluated directly."""
    assert ellipsoid_surface_area(3.0, 3.0, 3.0) == pytest.approx(4 * np.pi * 9.0)
    a, b, c = 5.0, 4.0, 2.5
    alpha, beta = np.sqrt(1 - b**2 / a**2), np.sqrt(1 - c**2 / a**2)
    x = (alpha**2 + beta**2) / (2 * alpha * beta)
    nu = np.arange(21)
    series = np.sum((alpha * beta) ** nu / (1 - 4 * nu**2) * eval_legendre(nu, x))
    assert ellipsoid_surface_area(a, b, c) == pytest.approx(4 * np.pi * a * b * series, rel=1e-10)


def test_ombb_of_a_rotated_box():
    corners = np.array([[x, y, z] for x in (0, 1) for y in (0, 2) for z in (0, 3)], float)
    pts = Rotation.from_euler("xyz", [0.4, -0.7, 1.1]).apply(corners) + 10.0
    hull = ConvexHull(pts)
    volume, edges, axes = oriented_minimum_bounding_box(pts[hull.vertices], hull.equations[:, :3])
    assert volume == pytest.approx(6.0, rel=1e-9)
    assert sorted(edges) == pytest.approx([1.0, 2.0, 3.0], rel=1e-9)
    np.testing.assert_allclose(axes @ axes.T, np.eye(3), atol=1e-9)


def test_mvee_of_an_ellipsoid():
    rng = np.random.default_rng(0)
    u = rng.normal(size=(400, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    semi = np.array([6.0, 3.0, 2.0])
    pts = Rotation.from_euler("zyx", [0.3, 0.2, -0.5]).apply(u * semi) + 5.0
    got = mvee_semi_axes(pts)
    np.testing.assert_allclose(got, semi, rtol=0.01)  # Khachiyan stops at τ = 0.001


# --------------------------------------------------------------------------- invariances


@pytest.fixture(scope="module")
def blob():
    """An irregular ROI with intensities, anisotropic spacing."""
    rng = np.random.default_rng(11)
    z, y, x = np.meshgrid(np.arange(9), np.arange(12), np.arange(10), indexing="ij")
    mask = ((z - 4) / 3.5) ** 2 + ((y - 5.5) / 5) ** 2 + ((x - 4.5) / 3.8) ** 2 <= 1.0
    mask[4, 2:5, 2:4] = False  # a notch, so the shape is not convex
    image = 50.0 + 10.0 * z + rng.normal(0.0, 5.0, mask.shape)
    return mask, image, (2.5, 0.9, 1.2)


def _assert_same(a: dict, b: dict, rtol=1e-9):
    for k in a:
        r = 1e-4 if "ombb" in k else rtol  # OMBB: local search may stop at a slightly different box
        assert b[k] == pytest.approx(a[k], rel=r, nan_ok=True), k


def test_invariant_to_zero_padding(blob):
    mask, image, spacing = blob
    ref = morphology.compute(mask, mask, image, spacing)
    pad = ((2, 0), (1, 3), (0, 4))
    padded = morphology.compute(np.pad(mask, pad), np.pad(mask, pad), np.pad(image, pad), spacing)
    _assert_same(ref, padded)


@pytest.mark.parametrize("axes", [(0, 2, 1), (2, 1, 0), (1, 0, 2)])
def test_invariant_to_axis_permutation(blob, axes):
    mask, image, spacing = blob
    ref = morphology.compute(mask, mask, image, spacing)
    sp = tuple(spacing[a] for a in axes)
    perm = morphology.compute(mask.transpose(axes), mask.transpose(axes), image.transpose(axes), sp)
    _assert_same(ref, perm)


@pytest.mark.parametrize("k, plane", [(1, (1, 2)), (2, (0, 1)), (3, (0, 2))])
def test_invariant_to_90_degree_rotation(blob, k, plane):
    mask, image, spacing = blob
    ref = morphology.compute(mask, mask, image, spacing)
    sp = list(spacing)
    if k % 2:
        sp[plane[0]], sp[plane[1]] = sp[plane[1]], sp[plane[0]]
    rot = morphology.compute(np.rot90(mask, k, plane), np.rot90(mask, k, plane),
                             np.rot90(image, k, plane), tuple(sp))
    _assert_same(ref, rot)


def test_intensity_mask_only_drives_intensity_features(blob):
    mask, image, spacing = blob
    ref = morphology.compute(mask, mask, image, spacing)
    inner = mask & (image < np.median(image[mask]))
    v = morphology.compute(mask, inner, image, spacing)
    for key in ("volume", "surface_area", "major_axis_length", "maximum_3d_diameter"):
        assert v[f"morphology_{key}"] == ref[f"morphology_{key}"]
    mean_inner = image[inner].mean()
    assert v["morphology_integrated_intensity"] == pytest.approx(ref["morphology_volume"] * mean_inner)


# --------------------------------------------------------------------------- errors


def test_errors(blob):
    mask, image, spacing = blob
    with pytest.raises(GeometryError, match="expected the image shape"):
        morphology.compute(mask[:-1], mask, image, spacing)
    with pytest.raises(GeometryError, match="three positive lengths"):
        morphology.compute(mask, mask, image, (1.0, 0.0, 1.0))
    with pytest.raises(EmptyRoiError, match="intensity mask holds no voxel"):
        morphology.compute(mask, np.zeros_like(mask), image, spacing)
    with pytest.raises(MaskError, match="other than 0 and 1"):
        morphology.compute(mask.astype(int) * 2, mask, image, spacing)
    bad = image.copy()
    bad[mask.nonzero()[0][0], mask.nonzero()[1][0], mask.nonzero()[2][0]] = np.nan
    with pytest.raises(FeatureError, match="not finite"):
        morphology.compute(mask, mask, bad, spacing)


@pytest.mark.parametrize("seed", range(5))
def test_closed_mesh_check_on_random_masks(seed):
    """Marching-cubes meshes of random masks pass; dropping or flipping any one face fails."""
    from voxelomics.features._mesh import _is_closed_and_oriented, roi_mesh

    rng = np.random.default_rng(seed)
    mask = rng.random((6, 7, 8)) < 0.4
    mask[3, 3, 3] = True
    faces = roi_mesh(mask, (1.0, 1.5, 2.0)).faces
    assert _is_closed_and_oriented(faces)
    for k in rng.choice(len(faces), size=5, replace=False):
        assert not _is_closed_and_oriented(np.delete(faces, k, axis=0))
        flipped = faces.copy()
        flipped[k] = flipped[k, ::-1]
        assert not _is_closed_and_oriented(flipped)
