"""The IBSI-2 phase-2 presets ``ibsi2-1a`` … ``ibsi2-9b`` (CT phantom, filtered images).

Every configuration (IBSI-2 reference manual, phase 2; ``data/ibsi2/ibsi2_phase2_filter_configs.csv``):
the IBSI-1 CT phantom with its GTV-1, intensities rounded to integer HU, the ROI re-segmented
to [-1000, 400] HU on the image's intensities, mirror padding, the 18 intensity statistics
of the response map inside the ROI.

* ``.A`` (2D): no interpolation, slice-by-slice filters;
* ``.B`` (3D): resampling to 1 × 1 × 1 mm by tricubic spline (rounded to integer HU; ROI
  by trilinear interpolation, partial-volume threshold 0.5), volumetric filters (Gabor: the
  three orthogonal planes).

=====  =====================================================================
 id    filter
=====  =====================================================================
 1     none (the image itself)
 2     mean, support 5 voxels
 3     LoG, σ = 1.5 mm, truncated at 4 σ
 4     Laws L5E5 (2D) / L5E5E5 (3D), max-pooled over rotations, energy δ = 7
 5     Gabor σ = 5 mm, λ = 2 mm, γ = 3/2, θ in 22.5° steps, average pooling
 6     Daubechies 3, LH (2D) / LLH (3D), level 1, rotation-invariant (average)
 7     Daubechies 3, HH / HHH, level 2, rotation-invariant (average)
 8, 9  Simoncelli, level 1 and 2
=====  =====================================================================

The Simoncelli wavelet is defined in the Fourier domain, and the reference values were
computed on the whole image with the transform's own (periodic) boundary: presets 8 and 9
use ``padding: periodic`` and a crop margin larger than the phantom (the whole image is
filtered). Their near-zero statistics (the median and the quartile coefficient of dispersion
of a zero-mean band-pass response) move outside the reference tolerance when the image is
cropped or mirror-padded, because the filter has no finite support.
"""

from __future__ import annotations

__all__ = ["ibsi2_presets"]

#: Filter of each configuration: (2D spec, 3D spec).
_FILTERS: dict[int, tuple[dict | None, dict | None]] = {
    1: (None, None),
    2: ({"type": "mean", "support_voxels": 5}, {"type": "mean", "support_voxels": 5}),
    3: ({"type": "log", "sigma_mm": 1.5, "truncate": 4.0}, {"type": "log", "sigma_mm": 1.5, "truncate": 4.0}),
    4: ({"type": "laws", "kernel": "L5E5", "rotation_invariance": True, "pooling": "max", "energy_distance": 7},
        {"type": "laws", "kernel": "L5E5E5", "rotation_invariance": True, "pooling": "max", "energy_distance": 7}),
    5: ({"type": "gabor", "sigma_mm": 5.0, "lambda_mm": 2.0, "gamma": 1.5, "rotation_invariance": True,
         "theta_step_deg": 22.5, "pooling": "average"},
        {"type": "gabor", "sigma_mm": 5.0, "lambda_mm": 2.0, "gamma": 1.5, "rotation_invariance": True,
         "theta_step_deg": 22.5, "pooling": "average"}),
    6: ({"type": "wavelet", "wavelet": "db3", "subbands": "LH", "rotation_invariance": True},
        {"type": "wavelet", "wavelet": "db3", "subbands": "LLH", "rotation_invariance": True}),
    7: ({"type": "wavelet", "wavelet": "db3", "subbands": "HH", "level": 2, "rotation_invariance": True},
        {"type": "wavelet", "wavelet": "db3", "subbands": "HHH", "level": 2, "rotation_invariance": True}),
    8: ({"type": "simoncelli", "level": 1, "padding": "periodic"}, {"type": "simoncelli", "level": 1, "padding": "periodic"}),
    9: ({"type": "simoncelli", "level": 2, "padding": "periodic"}, {"type": "simoncelli", "level": 2, "padding": "periodic"}),
}

#: Crop margin (mm) larger than the CT phantom (its longest side is 200 mm): the whole image.
_WHOLE_IMAGE_MM = 1000.0


def ibsi2_presets() -> dict:
    """The 18 phase-2 presets by name.

    Returns
    -------
    dict of str to Settings
        ``ibsi2-1a`` … ``ibsi2-9b``.
    """
    from voxelomics.settings import (
        DiscretisationSettings,
        ResamplingSettings,
        ResegmentationSettings,
        ResponseMapSettings,
        Settings,
    )

    out = {}
    for i, (spec_2d, spec_3d) in _FILTERS.items():
        for dim, spec in (("a", spec_2d), ("b", spec_3d)):
            if spec is not None:
                spec = {**spec, "dimensions": "2d" if dim == "a" else "3d"}
            resampling = ResamplingSettings() if dim == "a" else ResamplingSettings(
                spacing_mm=(1.0, 1.0, 1.0), interpolator="bspline", mask_interpolator="linear",
                mask_threshold=0.5, round_intensities=True)
            name = f"ibsi2-{i}{dim}"
            out[name] = Settings(
                name=name,
                round_input=True,
                crop_margin_mm=_WHOLE_IMAGE_MM if i in (8, 9) else 15.0,
                resampling=resampling,
                resegmentation=ResegmentationSettings(range_min=-1000.0, range_max=400.0),
                discretisation=DiscretisationSettings(method="fbs", bin_width=25.0),
                ivh_discretisation=DiscretisationSettings(method="fbs", bin_width=2.5),
                families=["statistics"],
                filters=[] if spec is None else [spec],
                response_maps=ResponseMapSettings(families=["statistics"]),
                modality_overrides={},
            )
    return out
