"""Morphological features (IBSI family HCUG, reference manual section 3.1).

Three representations of the ROI are used, as IBSI prescribes:

* the **surface mesh** of the morphological mask (marching cubes at level 0.5 on the
  zero-padded mask, :mod:`voxelomics.features._mesh`): volume :math:`V`, area :math:`A`,
  convex hull, diameter and bounding boxes;
* the **voxel-centre point set** :math:`\\mathbf{X}_c` of the morphological mask: voxel-counting
  volume, PCA axes (:math:`\\lambda_{major} \\ge \\lambda_{minor} \\ge \\lambda_{least}`, mm²),
  geometric centre of mass;
* the **intensity point set** :math:`\\mathbf{X}_{c,gl}` with intensities :math:`\\mathbf{X}_{gl}`
  of the intensity mask: intensity-weighted centre of mass, integrated intensity, Moran's I
  and Geary's C.

Coordinates are voxel centres in mm in array order (z, y, x); every feature is invariant to
the origin, so none is needed. Morphological features are 3D by definition (IBSI: DHQ4).

Undefined values are NaN, never errors: PCA features need two voxels (otherwise NaN), ratios
of PCA axes need :math:`\\lambda_{major} > 0`, AEE densities need all three semi-axes > 0, the
centre-of-mass shift needs a non-zero intensity sum, Moran's I and Geary's C need two voxels
and non-constant intensities.

Features (readable key ``morphology_...``, IBSI tag; identifier; definition; undefined
case). ``V``, ``A``: mesh volume and area; ``lambda``: PCA eigenvalues of the voxel centres
(major >= minor >= least); ``a, b, c = 2 sqrt(lambda)``:

``volume`` (``morph_volume``): volume, mesh (IBSI: RNU0)
    ``V = |sum of signed face-origin tetrahedron volumes|``, mm³. Always defined.
``volume_voxel`` (``morph_vol_approx``): volume, voxel counting (IBSI: YEKZ)
    Number of voxels of the morphological mask times the voxel volume, mm³. Always defined.
``surface_area`` (``morph_area_mesh``): surface area, mesh (IBSI: C0JK)
    ``A = sum of the mesh triangle areas``, mm². Always defined.
``surface_to_volume_ratio`` (``morph_av``): surface to volume ratio (IBSI: 2PR5)
    ``A / V``, 1/mm. Always defined.
``compactness_1`` (``morph_comp_1``): compactness 1 (IBSI: SKGS)
    ``V / (pi^(1/2) A^(3/2))``. Always defined.
``compactness_2`` (``morph_comp_2``): compactness 2 (IBSI: BQWJ)
    ``36 pi V² / A³``. Always defined.
``spherical_disproportion`` (``morph_sph_dispr``): spherical disproportion (IBSI: KRCK)
    ``A / (36 pi V²)^(1/3)``. Always defined.
``sphericity`` (``morph_sphericity``): sphericity (IBSI: QCFX)
    ``(36 pi V²)^(1/3) / A``. Always defined.
``asphericity`` (``morph_asphericity``): asphericity (IBSI: 25C7)
    ``(A³ / (36 pi V²))^(1/3) - 1``. Always defined.
``centre_of_mass_shift`` (``morph_com``): centre of mass shift (IBSI: KLMA)
    Distance (mm) between the mean voxel centre of the morphological mask and the
    intensity-weighted centre of the intensity mask. NaN when the intensities sum to 0.
``maximum_3d_diameter`` (``morph_diam``): maximum 3D diameter (IBSI: L0JK)
    Largest distance between two mesh (convex hull) vertices, mm. Always defined.
``major_axis_length`` (``morph_pca_maj_axis``): major axis length (IBSI: TDIC)
    ``4 sqrt(lambda_major)``, mm. NaN for fewer than two voxels.
``minor_axis_length`` (``morph_pca_min_axis``): minor axis length (IBSI: P9VJ)
    ``4 sqrt(lambda_minor)``, mm. NaN for fewer than two voxels.
``least_axis_length`` (``morph_pca_least_axis``): least axis length (IBSI: 7J51)
    ``4 sqrt(lambda_least)``, mm. NaN for fewer than two voxels.
``elongation`` (``morph_pca_elongation``): elongation (IBSI: Q3CK)
    ``sqrt(lambda_minor / lambda_major)``. NaN unless ``lambda_major > 0``.
``flatness`` (``morph_pca_flatness``): flatness (IBSI: N17B)
    ``sqrt(lambda_least / lambda_major)``. NaN unless ``lambda_major > 0``.
``volume_density_aabb`` (``morph_vol_dens_aabb``): volume density, AABB (IBSI: PBX1)
    ``V`` over the volume of the axis-aligned bounding box of the mesh vertices (IBSI
    calls it extent). Always defined.
``area_density_aabb`` (``morph_area_dens_aabb``): area density, AABB (IBSI: R59B)
    ``A`` over the surface area of that box. Always defined.
``volume_density_ombb`` (``morph_vol_dens_ombb``): volume density, OMBB (IBSI: ZH1A)
    ``V`` over the volume of the oriented minimum bounding box. NaN for a degenerate box;
    no IBSI reference value.
``area_density_ombb`` (``morph_area_dens_ombb``): area density, OMBB (IBSI: IQYR)
    ``A`` over the area of that box. NaN for a degenerate box; no IBSI reference value.
``volume_density_aee`` (``morph_vol_dens_aee``): volume density, AEE (IBSI: 6BDE)
    ``3 V / (4 pi a b c)``, the approximate enclosing ellipsoid from PCA. NaN unless all
    three semi-axes are > 0 (collinear or coplanar voxel centres, or one voxel).
``area_density_aee`` (``morph_area_dens_aee``): area density, AEE (IBSI: RDD2)
    ``A`` over the ellipsoid area (Legendre series to degree 20). NaN as the AEE volume
    density.
``volume_density_mvee`` (``morph_vol_dens_mvee``): volume density, MVEE (IBSI: SWZ1)
    ``V`` over the volume of the minimum volume enclosing ellipsoid of the convex hull
    vertices (Khachiyan, tolerance 0.001). No IBSI reference value.
``area_density_mvee`` (``morph_area_dens_mvee``): area density, MVEE (IBSI: BRI8)
    ``A`` over the area of that ellipsoid. No IBSI reference value.
``volume_density_convex_hull`` (``morph_vol_dens_conv_hull``): volume density, hull (IBSI: R3ER)
    ``V / V_convex``, convex hull of the mesh (IBSI calls it solidity). Always defined.
``area_density_convex_hull`` (``morph_area_dens_conv_hull``): area density, hull (IBSI: 7T7F)
    ``A / A_convex``, convex hull of the mesh. Always defined.
``integrated_intensity`` (``morph_integ_int``): integrated intensity (IBSI: 99N0)
    ``V`` times the mean intensity of the intensity mask. Always defined.
``morans_i`` (``morph_moran_i``): Moran's I index (IBSI: N365)
    Spatial autocorrelation with inverse-distance weights over the intensity mask. NaN for
    fewer than two voxels or constant intensities.
``gearys_c`` (``morph_geary_c``): Geary's C measure (IBSI: NPT7)
    Spatial autocorrelation from squared intensity differences, inverse-distance weights.
    NaN for fewer than two voxels or constant intensities.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import ConvexHull

from voxelomics.errors import EmptyRoiError, FeatureError, GeometryError, MaskError
from voxelomics.features._ellipsoid import ellipsoid_surface_area, mvee_semi_axes, pca_eigenvalues
from voxelomics.features._mesh import (
    max_diameter,
    oriented_minimum_bounding_box,
    roi_mesh,
    signed_volume,
    surface_area,
)
from voxelomics.features._spatial import moran_geary
from voxelomics.features.registry import FeatureSpec

__all__ = ["FEATURES", "compute"]


def _spec(name, ibsi_id, tag, title, unit="", compliant=True) -> FeatureSpec:
    return FeatureSpec(f"morphology_{name}", "morphology", ibsi_id, tag, title, unit, compliant)


#: The 29 IBSI morphological features, in the order of the reference manual.
FEATURES: tuple[FeatureSpec, ...] = (
    _spec("volume", "RNU0", "morph_volume", "Volume (mesh)", "mm3"),
    _spec("volume_voxel", "YEKZ", "morph_vol_approx", "Volume (voxel counting)", "mm3"),
    _spec("surface_area", "C0JK", "morph_area_mesh", "Surface area (mesh)", "mm2"),
    _spec("surface_to_volume_ratio", "2PR5", "morph_av", "Surface to volume ratio", "1/mm"),
    _spec("compactness_1", "SKGS", "morph_comp_1", "Compactness 1"),
    _spec("compactness_2", "BQWJ", "morph_comp_2", "Compactness 2"),
    _spec("spherical_disproportion", "KRCK", "morph_sph_dispr", "Spherical disproportion"),
    _spec("sphericity", "QCFX", "morph_sphericity", "Sphericity"),
    _spec("asphericity", "25C7", "morph_asphericity", "Asphericity"),
    _spec("centre_of_mass_shift", "KLMA", "morph_com", "Centre of mass shift", "mm"),
    _spec("maximum_3d_diameter", "L0JK", "morph_diam", "Maximum 3D diameter", "mm"),
    _spec("major_axis_length", "TDIC", "morph_pca_maj_axis", "Major axis length", "mm"),
    _spec("minor_axis_length", "P9VJ", "morph_pca_min_axis", "Minor axis length", "mm"),
    _spec("least_axis_length", "7J51", "morph_pca_least_axis", "Least axis length", "mm"),
    _spec("elongation", "Q3CK", "morph_pca_elongation", "Elongation"),
    _spec("flatness", "N17B", "morph_pca_flatness", "Flatness"),
    _spec("volume_density_aabb", "PBX1", "morph_vol_dens_aabb",
          "Volume density (axis-aligned bounding box)"),
    _spec("area_density_aabb", "R59B", "morph_area_dens_aabb",
          "Area density (axis-aligned bounding box)"),
    _spec("volume_density_ombb", "ZH1A", "morph_vol_dens_ombb",
          "Volume density (oriented minimum bounding box)", compliant=False),
    _spec("area_density_ombb", "IQYR", "morph_area_dens_ombb",
          "Area density (oriented minimum bounding box)", compliant=False),
    _spec("volume_density_aee", "6BDE", "morph_vol_dens_aee",
          "Volume density (approximate enclosing ellipsoid)"),
    _spec("area_density_aee", "RDD2", "morph_area_dens_aee",
          "Area density (approximate enclosing ellipsoid)"),
    _spec("volume_density_mvee", "SWZ1", "morph_vol_dens_mvee",
          "Volume density (minimum volume enclosing ellipsoid)", compliant=False),
    _spec("area_density_mvee", "BRI8", "morph_area_dens_mvee",
          "Area density (minimum volume enclosing ellipsoid)", compliant=False),
    _spec("volume_density_convex_hull", "R3ER", "morph_vol_dens_conv_hull",
          "Volume density (convex hull)"),
    _spec("area_density_convex_hull", "7T7F", "morph_area_dens_conv_hull",
          "Area density (convex hull)"),
    _spec("integrated_intensity", "99N0", "morph_integ_int", "Integrated intensity", "image units·mm3"),
    _spec("morans_i", "N365", "morph_moran_i", "Moran's I index"),
    _spec("gearys_c", "NPT7", "morph_geary_c", "Geary's C measure"),
)


def _as_mask(mask, name: str, shape) -> np.ndarray:
    arr = np.asarray(mask)
    if arr.shape != shape:
        raise GeometryError(f"{name} has shape {arr.shape}; expected the image shape {shape} (z, y, x)")
    if arr.dtype != bool:
        if not np.isin(np.unique(arr), (0, 1)).all():
            raise MaskError(f"{name} holds values other than 0 and 1; expected a boolean mask")
        arr = arr.astype(bool)
    if not arr.any():
        raise EmptyRoiError(f"{name} holds no voxel; expected at least one ROI voxel")
    return arr


def _validate(morph_mask, intensity_mask, image, spacing_mm):
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 3:
        raise GeometryError(f"image has {img.ndim} dimensions; expected a 3D array (z, y, x)")
    spacing = tuple(float(s) for s in np.ravel(spacing_mm))
    if len(spacing) != 3 or not all(np.isfinite(s) and s > 0 for s in spacing):
        raise GeometryError(f"spacing_mm is {spacing_mm!r}; expected three positive lengths (z, y, x) in mm")
    mm = _as_mask(morph_mask, "morphological mask", img.shape)
    im = _as_mask(intensity_mask, "intensity mask", img.shape)
    if not np.all(np.isfinite(img[im])):
        bad = int((~np.isfinite(img[im])).sum())
        raise FeatureError(f"{bad} intensities in the intensity mask are not finite; expected finite values")
    return mm, im, img, spacing


def _safe_ratio(num: float, den: float) -> float:
    """num / den, NaN when the denominator is zero or undefined (documented undefined cases)."""
    return float(num / den) if np.isfinite(den) and den > 0 else float("nan")


def compute(
    morph_mask: np.ndarray,
    intensity_mask: np.ndarray,
    image: np.ndarray,
    spacing_mm,
    *,
    spatial_exact_max_voxels: int = 10000,
    seed: int = 0,
    _spatial: bool = True,
    _part=None,
) -> dict[str, float]:
    """Compute the 29 IBSI morphological features of an ROI (IBSI: HCUG).

    Parameters
    ----------
    morph_mask : ndarray of bool of shape (z, y, x)
        Morphological mask (mesh, voxel point set, PCA, geometric centre of mass).
    intensity_mask : ndarray of bool of shape (z, y, x)
        Intensity mask (re-segmented ROI): intensity-weighted centre of mass, integrated
        intensity, Moran's I, Geary's C.
    image : ndarray of float of shape (z, y, x)
        Intensities (e.g. HU); only values inside the intensity mask are used.
    spacing_mm : tuple of float
        Voxel spacing (z, y, x) in mm.
    spatial_exact_max_voxels : int, default=10000
        Moran's I and Geary's C: largest ROI for the explicit pair sums when the exact grid
        (FFT) method does not fit in memory, and the sub-sample size of the approximation
        used above it (see :func:`voxelomics.features._spatial.moran_geary`).
    seed : int, default=0
        Seed of that sub-sampling.

    Returns
    -------
    dict of str to float
        Readable feature names (``morphology_volume`` …, see :data:`FEATURES`) to values in
        mm, mm², mm³, 1/mm, intensity·mm³ or dimensionless.

    Raises
    ------
    GeometryError
        Masks and image differ in shape, or the spacing is not three positive numbers.
    MaskError
        A mask holds values other than 0/1.
    EmptyRoiError
        A mask is empty.
    FeatureError
        Non-finite intensities inside the intensity mask, or a degenerate mesh.

    Warns
    -----
    ApproximationWarning
        Moran's I and Geary's C were approximated by sub-sampling.

    Notes
    -----
    Mesh features: :math:`V` (RNU0) and :math:`A` (C0JK); ratios 2PR5 :math:`A/V`, SKGS
    :math:`V/(\\pi^{1/2}A^{3/2})`, BQWJ :math:`36\\pi V^2/A^3`, KRCK
    :math:`A/(36\\pi V^2)^{1/3}`, QCFX :math:`(36\\pi V^2)^{1/3}/A`, 25C7 KRCK − 1.
    PCA on :math:`\\mathbf{X}_c` (covariance with divisor :math:`N-1`): TDIC/P9VJ/7J51
    :math:`4\\sqrt{\\lambda}`; Q3CK :math:`\\sqrt{\\lambda_{minor}/\\lambda_{major}}`; N17B
    :math:`\\sqrt{\\lambda_{least}/\\lambda_{major}}`. Bounding volumes (AABB, OMBB, AEE, MVEE,
    convex hull) are built on the mesh vertices (convex hull vertices) except the AEE, which
    uses the PCA semi-axes :math:`a,b,c = 2\\sqrt{\\lambda}`. Integrated intensity (99N0) is
    :math:`V` times the mean intensity of the intensity mask.

    .. warning:: The AEE and MVEE areas use IBSI's Legendre series
       (:func:`voxelomics.features._ellipsoid.ellipsoid_surface_area`), which is exact for a
       sphere but not for general ellipsoids; the IBSI reference values are based on it.
       OMBB and MVEE features have no IBSI reference (``ibsi_compliant=False``).

    References
    ----------
    Zwanenburg A. et al., The Image Biomarker Standardisation Initiative, Radiology
    2020;295:328-338; reference manual arXiv:1612.07003, section 3.1.
    """
    mm, im, img, spacing = _validate(morph_mask, intensity_mask, image, spacing_mm)
    part = _part if _part is not None else _mask_features(mm, spacing)  # _part: see extract
    return _with_intensity(part, im, img, spacing, spatial_exact_max_voxels, seed, _spatial)


#: Output order of :func:`compute` (the mask-only and intensity parts are merged into it).
_ORDER = (
    "volume", "volume_voxel", "surface_area", "surface_to_volume_ratio", "compactness_1",
    "compactness_2", "spherical_disproportion", "sphericity", "asphericity",
    "centre_of_mass_shift", "maximum_3d_diameter", "major_axis_length", "minor_axis_length",
    "least_axis_length", "elongation", "flatness", "volume_density_aabb", "area_density_aabb",
    "volume_density_ombb", "area_density_ombb", "volume_density_aee", "area_density_aee",
    "volume_density_mvee", "area_density_mvee", "volume_density_convex_hull",
    "area_density_convex_hull", "integrated_intensity",
)


def _mask_features(mm: np.ndarray, spacing) -> tuple[dict[str, float], float, np.ndarray]:
    """Features of the morphological mask alone (mesh, hull, PCA, bounding volumes).

    ``mm`` is a validated bool array (z, y, x), ``spacing`` (z, y, x) in mm. Returns the
    features, the mesh volume (mm³) and the geometric centre of mass (z, y, x) in mm, which
    :func:`_with_intensity` needs. Split out so that extraction can start it before the
    image intensities are read (``voxelomics.extract``).
    """
    sp = np.asarray(spacing)
    mesh = roi_mesh(mm, spacing)
    volume = signed_volume(mesh.vertices, mesh.faces)
    area = surface_area(mesh.vertices, mesh.faces)
    hull = ConvexHull(mesh.vertices)
    hull_pts = mesh.vertices[hull.vertices]

    out: dict[str, float] = {}
    out["morphology_volume"] = volume
    out["morphology_volume_voxel"] = float(mm.sum() * np.prod(sp))
    out["morphology_surface_area"] = area
    out["morphology_surface_to_volume_ratio"] = area / volume
    out["morphology_compactness_1"] = volume / (np.sqrt(np.pi) * area**1.5)
    comp2 = 36.0 * np.pi * volume**2 / area**3
    out["morphology_compactness_2"] = comp2
    out["morphology_spherical_disproportion"] = comp2 ** (-1.0 / 3.0)
    out["morphology_sphericity"] = comp2 ** (1.0 / 3.0)
    out["morphology_asphericity"] = comp2 ** (-1.0 / 3.0) - 1.0

    xc = np.argwhere(mm) * sp
    com_geom = xc.mean(axis=0)

    out["morphology_maximum_3d_diameter"] = max_diameter(hull_pts)

    lam = pca_eigenvalues(xc)
    out["morphology_major_axis_length"] = float(4.0 * np.sqrt(lam[0]))
    out["morphology_minor_axis_length"] = float(4.0 * np.sqrt(lam[1]))
    out["morphology_least_axis_length"] = float(4.0 * np.sqrt(lam[2]))
    out["morphology_elongation"] = float(np.sqrt(_safe_ratio(lam[1], lam[0])))
    out["morphology_flatness"] = float(np.sqrt(_safe_ratio(lam[2], lam[0])))

    ext = mesh.vertices.max(axis=0) - mesh.vertices.min(axis=0)
    out["morphology_volume_density_aabb"] = volume / float(np.prod(ext))
    out["morphology_area_density_aabb"] = area / _box_area(ext)

    ombb_volume, ombb_edges, _ = oriented_minimum_bounding_box(hull_pts, hull.equations[:, :3])
    out["morphology_volume_density_ombb"] = _safe_ratio(volume, ombb_volume)
    out["morphology_area_density_ombb"] = _safe_ratio(area, _box_area(ombb_edges))

    a, b, c = 2.0 * np.sqrt(lam)
    if np.all(np.isfinite(lam)) and c > 0:
        out["morphology_volume_density_aee"] = 3.0 * volume / (4.0 * np.pi * a * b * c)
        out["morphology_area_density_aee"] = area / ellipsoid_surface_area(a, b, c)
    else:  # collinear or coplanar voxel centres: degenerate ellipsoid
        out["morphology_volume_density_aee"] = float("nan")
        out["morphology_area_density_aee"] = float("nan")

    ma, mb, mc = mvee_semi_axes(hull_pts)
    out["morphology_volume_density_mvee"] = 3.0 * volume / (4.0 * np.pi * ma * mb * mc)
    out["morphology_area_density_mvee"] = area / ellipsoid_surface_area(ma, mb, mc)

    out["morphology_volume_density_convex_hull"] = volume / float(hull.volume)
    out["morphology_area_density_convex_hull"] = area / float(hull.area)
    return out, volume, com_geom


def _with_intensity(part, im, img, spacing, spatial_exact_max_voxels: int, seed: int,
                    spatial: bool) -> dict[str, float]:
    """Add the intensity-dependent features to a :func:`_mask_features` result, in order."""
    mask_out, volume, com_geom = part
    sp = np.asarray(spacing)
    out = dict(mask_out)
    # centre of mass shift: geometric (morphological mask) vs intensity-weighted (intensity mask)
    xgl = np.argwhere(im) * sp
    gl = img[im]
    total = float(gl.sum())
    if total != 0.0:
        com_gl = (gl @ xgl) / total
        out["morphology_centre_of_mass_shift"] = float(np.linalg.norm(com_geom - com_gl))
    else:  # intensity-weighted centre undefined
        out["morphology_centre_of_mass_shift"] = float("nan")
    out["morphology_integrated_intensity"] = volume * float(gl.mean())
    ordered = {f"morphology_{k}": out[f"morphology_{k}"] for k in _ORDER}
    if spatial:  # False: the caller runs _spatial_features itself (in parallel, extract)
        ordered.update(_spatial_features(img, im, spacing, spatial_exact_max_voxels, seed))
    return {k: float(v) for k, v in ordered.items()}


def _spatial_features(image, intensity_mask, spacing, exact_max_voxels: int, seed: int) -> dict[str, float]:
    """Moran's I (N365) and Geary's C (NPT7), the last two entries of :func:`compute`."""
    moran, geary = moran_geary(image, intensity_mask, spacing, exact_max_voxels=exact_max_voxels, seed=seed)
    return {"morphology_morans_i": float(moran), "morphology_gearys_c": float(geary)}


def _box_area(edges) -> float:
    """Surface area of a box with edge lengths (mm)."""
    x, y, z = (float(e) for e in edges)
    return 2.0 * (x * y + y * z + z * x)
