"""The IBSI chapter-1 presets: ``default``, ``ibsi-digital`` and ``ibsi-a`` … ``ibsi-e``.

Configurations A–E are the IBSI-1 CT phantom configurations (Zwanenburg et al.,
arXiv:1612.07003, chapter 5, table 5.1): A and B in 2D/2.5D without or with in-plane
resampling, C–E in 3D on 2 mm isotropic voxels with fixed bin size (C) or number (D, E),
outlier re-segmentation (D, E) and B-spline interpolation (E). They are made for CT (HU)
and refuse other modalities (``modalities: [CT]``). ``ibsi-digital`` is the digital phantom
(no discretisation, all texture dimensions). ``default`` is the settings object's defaults.
"""

from __future__ import annotations

from voxelomics.settings import (
    DiscretisationSettings,
    ResamplingSettings,
    ResegmentationSettings,
    Settings,
    TextureSettings,
)

__all__ = ["ibsi1_presets"]

_CT_3D_2MM = dict(
    spacing_mm=(2.0, 2.0, 2.0), interpolator="linear", mask_interpolator="linear",
    mask_threshold=0.5, round_intensities=True,
)


def ibsi1_presets() -> dict:
    """The presets ``default``, ``ibsi-digital`` and ``ibsi-a`` … ``ibsi-e``, by name.

    Returns
    -------
    dict of str to Settings
    """
    # configurations A-E are for the CT phantom (HU); the digital phantom has no modality
    ibsi = dict(modality_overrides={}, resampling=ResamplingSettings(), round_input=True, modalities=["CT"])
    dig = Settings(
        name="ibsi-digital",
        **{**ibsi, "round_input": False, "modalities": None},
        discretisation=DiscretisationSettings(method="none"),
        ivh_discretisation=DiscretisationSettings(method="none"),
        texture=TextureSettings(dimensions=["2d", "2_5d", "3d"]),
        crop_margin_mm=0.0,
    )
    a = Settings(
        name="ibsi-a",
        **ibsi,
        resegmentation=ResegmentationSettings(range_min=-500, range_max=400),
        discretisation=DiscretisationSettings(method="fbs", bin_width=25.0),
        ivh_discretisation=DiscretisationSettings(method="none"),
        texture=TextureSettings(dimensions=["2d", "2_5d"]),
    )
    b = Settings(
        name="ibsi-b",
        **{**ibsi, "resampling": ResamplingSettings(
            spacing_mm=(None, 2.0, 2.0), interpolator="linear", mask_interpolator="linear",
            mask_threshold=0.5, round_intensities=True,
        )},
        resegmentation=ResegmentationSettings(range_min=-500, range_max=400),
        discretisation=DiscretisationSettings(method="fbn", n_bins=32),
        ivh_discretisation=DiscretisationSettings(method="none"),
        texture=TextureSettings(dimensions=["2d", "2_5d"]),
    )
    c = Settings(
        name="ibsi-c",
        **{**ibsi, "resampling": ResamplingSettings(**_CT_3D_2MM)},
        resegmentation=ResegmentationSettings(range_min=-1000, range_max=400),
        discretisation=DiscretisationSettings(method="fbs", bin_width=25.0),
        ivh_discretisation=DiscretisationSettings(method="fbs", bin_width=2.5),
        texture=TextureSettings(dimensions=["3d"]),
    )
    d = Settings(
        name="ibsi-d",
        **{**ibsi, "resampling": ResamplingSettings(**_CT_3D_2MM)},
        resegmentation=ResegmentationSettings(outlier_sigma=3.0),
        discretisation=DiscretisationSettings(method="fbn", n_bins=32),
        ivh_discretisation=DiscretisationSettings(method="none"),
        texture=TextureSettings(dimensions=["3d"]),
    )
    e = Settings(
        name="ibsi-e",
        **{**ibsi, "resampling": ResamplingSettings(**{**_CT_3D_2MM, "interpolator": "bspline"})},
        resegmentation=ResegmentationSettings(range_min=-1000, range_max=400, outlier_sigma=3.0),
        discretisation=DiscretisationSettings(method="fbn", n_bins=32),
        ivh_discretisation=DiscretisationSettings(method="fbn", n_bins=1000),
        texture=TextureSettings(dimensions=["3d"]),
    )
    default = Settings(name="default")
    return {s.name: s for s in (default, dig, a, b, c, d, e)}
