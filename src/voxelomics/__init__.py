"""voxelomics: IBSI-compliant radiomics, cohorts at scale and validated models for cancer imaging."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "extract_features", "extract_cohort", "delta_features", "Settings",
           "load_preset"]


def __getattr__(name: str):
    # Lazy imports keep `import voxelomics` and the CLI start-up fast.
    if name == "extract_features":
        from voxelomics.extract import extract_features

        return extract_features
    if name == "extract_cohort":
        from voxelomics.cohort import extract_cohort

        return extract_cohort
    if name == "delta_features":
        from voxelomics.delta import delta_features

        return delta_features
    if name in ("Settings", "load_preset"):
        from voxelomics import settings

        return getattr(settings, name)
    raise AttributeError(f"module 'voxelomics' has no attribute {name!r}")


def __dir__() -> list[str]:
    # dir() and tab completion list the lazy public names (PEP 562) beside the module's own
    # attributes (dunders, submodules already imported), but not the __future__ import.
    return sorted((set(globals()) - {"annotations"}) | set(__all__))
