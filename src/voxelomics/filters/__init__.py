"""IBSI chapter 2 convolutional filters: pure functions from an image to a response map.

One module per filter family; each function takes an image array in (z, y, x) order and
its voxel size in mm and returns a response map of the same shape:

* :func:`~voxelomics.filters.mean.mean_filter` (IBSI-2 2.3),
* :func:`~voxelomics.filters.log.laplacian_of_gaussian` (2.4),
* :func:`~voxelomics.filters.laws.laws_filter` (2.5),
* :func:`~voxelomics.filters.gabor.gabor_filter` (2.6),
* :func:`~voxelomics.filters.wavelet.separable_wavelet` and
  :func:`~voxelomics.filters.wavelet.wavelet_subbands` (2.7, PyWavelets filter banks),
* :func:`~voxelomics.filters.simoncelli.simoncelli_wavelet` (2.8),
* :func:`~voxelomics.filters.riesz.riesz_log` and
  :func:`~voxelomics.filters.riesz.riesz_simoncelli` (2.9).

Boundary conditions are named as IBSI names them (:mod:`voxelomics.filters.boundary`):
``constant`` (zero), ``nearest``, ``periodic``, ``mirror``. :mod:`voxelomics.filters.spec`
holds the validated parameters of each family (the ``filters:`` settings section) and the
dispatcher :func:`apply_filter`. Every function is validated against the 33 IBSI-2 phase-1
consensus response maps (``tests/ibsi/test_ibsi2_phase1.py``).

References
----------
Depeursinge A., Andrearczyk V., Whybra P. et al., Standardised convolutional filtering for
radiomics, arXiv:2006.05470 (IBSI reference manual, chapter 2); Whybra P. et al., Radiology
2024;310:e231319.
"""

_LAZY = {
    "Padding": "boundary", "PADDINGS": "boundary",
    "mean_filter": "mean", "laplacian_of_gaussian": "log", "laws_filter": "laws", "gabor_filter": "gabor",
    "separable_wavelet": "wavelet", "wavelet_subbands": "wavelet", "simoncelli_wavelet": "simoncelli",
    "riesz_log": "riesz", "riesz_simoncelli": "riesz",
    "FilterSpec": "spec", "FILTER_TYPES": "spec", "parse_filter": "spec", "parse_filters": "spec",
    "iter_responses": "spec", "apply_filter": "spec",
}


def __getattr__(name: str):
    # lazy: settings import the specs without paying for scipy.ndimage / scipy.fft
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"voxelomics.filters.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'voxelomics.filters' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "Padding",
    "PADDINGS",
    "mean_filter",
    "laplacian_of_gaussian",
    "laws_filter",
    "gabor_filter",
    "separable_wavelet",
    "wavelet_subbands",
    "simoncelli_wavelet",
    "riesz_log",
    "riesz_simoncelli",
    "FilterSpec",
    "FILTER_TYPES",
    "parse_filter",
    "parse_filters",
    "iter_responses",
    "apply_filter",
]
