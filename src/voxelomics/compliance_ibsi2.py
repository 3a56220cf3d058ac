"""IBSI-2 compliance: the phase-1 response maps and the phase-2 feature values.

Phase 1: each test filters a digital phantom (64³ voxels of 2 mm) with one filter and
compares the response map with the consensus map, voxel by voxel. IBSI-2's criterion is
that every voxel lies within 1 % of the reference map's range (``max - min``):
``max |response - reference| <= 0.01 (max(reference) - min(reference))``. The tolerance is
relative to the range because the maps' units differ by filter (a Laws energy map, a
Gabor modulus, a wavelet band), and it is applied at every voxel, borders included, so the
boundary condition is tested too.

Phase 2: the IBSI-1 CT phantom through the presets ``ibsi2-1a`` … ``ibsi2-9b`` (filter
after resampling, before re-segmentation), 18 intensity statistics per configuration
compared with the reference values and their tolerances (323 values).

:data:`PHASE1` holds the filter of every phase-1 test as a :mod:`voxelomics.filters.spec`
mapping, transcribed from the IBSI-2 test descriptions (``data/ibsi2/ibsi2_phase1_tests.csv``).
The Riesz tests' orders and scales (not in that table) are those of the participating
teams' submissions: LoG σ = 3 mm with order (1, 0, 0) (9.a) and (0, 2, 0) (9.b.1), and
Simoncelli level 1 with order (0, 2, 0) (10.b.1).
"""

from __future__ import annotations

import numpy as np

__all__ = ["PHASE1", "PHASE2_CONFIGS", "phase1_response", "run_phase1", "run_phase2", "print_phase1",
           "print_phase2", "phase2_features", "phase2_config_name"]

_LAWS = {"type": "laws"}
#: Phase-1 test id -> (phantom, filter spec). Spacing is the phantoms' 2 mm.
PHASE1: dict[str, tuple[str, dict]] = {
    "1.a.1": ("checkerboard", {"type": "mean", "support_voxels": 15, "padding": "constant"}),
    "1.a.2": ("checkerboard", {"type": "mean", "support_voxels": 15, "padding": "nearest"}),
    "1.a.3": ("checkerboard", {"type": "mean", "support_voxels": 15, "padding": "periodic"}),
    "1.a.4": ("checkerboard", {"type": "mean", "support_voxels": 15, "padding": "mirror"}),
    "1.b.1": ("impulse", {"type": "mean", "support_voxels": 15, "padding": "constant", "dimensions": "2d"}),
    "2.a": ("impulse", {"type": "log", "sigma_mm": 3.0, "truncate": 4.0, "padding": "constant"}),
    "2.b": ("checkerboard", {"type": "log", "sigma_mm": 5.0, "truncate": 4.0, "padding": "mirror"}),
    "2.c": ("checkerboard", {"type": "log", "sigma_mm": 5.0, "truncate": 4.0, "padding": "mirror",
                             "dimensions": "2d"}),
    "3.a.1": ("impulse", {**_LAWS, "kernel": "E5L5S5", "padding": "constant"}),
    "3.a.2": ("impulse", {**_LAWS, "kernel": "E5L5S5", "rotation_invariance": True, "pooling": "max",
                          "padding": "constant"}),
    "3.a.3": ("impulse", {**_LAWS, "kernel": "E5L5S5", "rotation_invariance": True, "pooling": "max",
                          "energy_distance": 7, "padding": "constant"}),
    "3.b.1": ("checkerboard", {**_LAWS, "kernel": "E3W5R5", "padding": "mirror"}),
    "3.b.2": ("checkerboard", {**_LAWS, "kernel": "E3W5R5", "rotation_invariance": True, "pooling": "max",
                               "padding": "mirror"}),
    "3.b.3": ("checkerboard", {**_LAWS, "kernel": "E3W5R5", "rotation_invariance": True, "pooling": "max",
                               "energy_distance": 7, "padding": "mirror"}),
    "3.c.1": ("checkerboard", {**_LAWS, "kernel": "L5S5", "padding": "mirror", "dimensions": "2d"}),
    "3.c.2": ("checkerboard", {**_LAWS, "kernel": "L5S5", "rotation_invariance": True, "pooling": "max",
                               "padding": "mirror", "dimensions": "2d"}),
    "3.c.3": ("checkerboard", {**_LAWS, "kernel": "L5S5", "rotation_invariance": True, "pooling": "max",
                               "energy_distance": 7, "padding": "mirror", "dimensions": "2d"}),
    "4.a.1": ("impulse", {"type": "gabor", "sigma_mm": 10.0, "lambda_mm": 4.0, "gamma": 0.5, "theta_deg": 60.0,
                          "padding": "constant", "dimensions": "2d"}),
    "4.a.2": ("impulse", {"type": "gabor", "sigma_mm": 10.0, "lambda_mm": 4.0, "gamma": 0.5,
                          "rotation_invariance": True, "theta_step_deg": 45.0, "pooling": "average",
                          "padding": "constant", "dimensions": "3d"}),
    "4.b.1": ("sphere", {"type": "gabor", "sigma_mm": 20.0, "lambda_mm": 8.0, "gamma": 2.5, "theta_deg": 225.0,
                         "padding": "mirror", "dimensions": "2d"}),
    "4.b.2": ("sphere", {"type": "gabor", "sigma_mm": 20.0, "lambda_mm": 8.0, "gamma": 2.5,
                         "rotation_invariance": True, "theta_step_deg": 22.5, "pooling": "average",
                         "padding": "mirror", "dimensions": "3d"}),
    "5.a.1": ("impulse", {"type": "wavelet", "wavelet": "db2", "subbands": "LHL", "padding": "constant"}),
    "5.a.2": ("impulse", {"type": "wavelet", "wavelet": "db2", "subbands": "LHL", "rotation_invariance": True,
                          "padding": "constant"}),
    "6.a.1": ("sphere", {"type": "wavelet", "wavelet": "coif1", "subbands": "HHL", "padding": "periodic"}),
    "6.a.2": ("sphere", {"type": "wavelet", "wavelet": "coif1", "subbands": "HHL", "rotation_invariance": True,
                         "padding": "periodic"}),
    "7.a.1": ("checkerboard", {"type": "wavelet", "wavelet": "haar", "subbands": "LLL", "level": 2,
                               "rotation_invariance": True, "padding": "mirror"}),
    "7.a.2": ("checkerboard", {"type": "wavelet", "wavelet": "haar", "subbands": "HHH", "level": 2,
                               "rotation_invariance": True, "padding": "mirror"}),
    "8.a.1": ("checkerboard", {"type": "simoncelli", "level": 1, "padding": "periodic"}),
    "8.a.2": ("checkerboard", {"type": "simoncelli", "level": 2, "padding": "periodic"}),
    "8.a.3": ("checkerboard", {"type": "simoncelli", "level": 3, "padding": "periodic"}),
    "9.a": ("impulse", {"type": "riesz", "base": "log", "sigma_mm": 3.0, "order": [1, 0, 0],
                        "padding": "constant"}),
    "9.b.1": ("sphere", {"type": "riesz", "base": "log", "sigma_mm": 3.0, "order": [0, 2, 0],
                         "padding": "constant"}),
    "10.b.1": ("pattern_1", {"type": "riesz", "base": "simoncelli", "level": 1, "order": [0, 2, 0],
                             "padding": "nearest"}),
}

#: Phase-2 configuration -> preset name.
PHASE2_CONFIGS: dict[str, str] = {f"{i}.{d}": f"ibsi2-{i}{d.lower()}" for i in range(1, 10) for d in "AB"}


def phase1_response(test_id: str):
    """Response map of one phase-1 test and the consensus map it is compared with.

    Parameters
    ----------
    test_id : str
        A key of :data:`PHASE1` (e.g. ``"3.b.2"``).

    Returns
    -------
    response : ndarray of shape (64, 64, 64)
        The filter's response map (z, y, x).
    reference : ndarray of shape (64, 64, 64)
        The IBSI-2 consensus response map.

    Raises
    ------
    SettingsError
        Unknown test id.
    InputError
        The phase-1 data (``shared/data/ibsi/ibsi2``) is not available.
    """
    from voxelomics.errors import SettingsError
    from voxelomics.filters import apply_filter
    from voxelomics.io.reference import read_ibsi2_phantom, read_ibsi2_response_map

    if test_id not in PHASE1:
        raise SettingsError(f"unknown IBSI-2 phase-1 test {test_id!r}; valid: {', '.join(PHASE1)}")
    phantom, spec = PHASE1[test_id]
    image, spacing = read_ibsi2_phantom(phantom)
    return apply_filter(image, spacing, spec), read_ibsi2_response_map(test_id)


def run_phase1(test_ids=None):
    """Compare every phase-1 response map with its consensus map.

    Parameters
    ----------
    test_ids : iterable of str or None, default=None
        Tests to run; ``None``: all 33 with a reference map.

    Returns
    -------
    pandas.DataFrame
        One row per test: ``test_id, phantom, filter, max_abs_deviation, tolerance,
        deviation_fraction`` (max deviation / tolerance) and ``within`` (bool).

    Raises
    ------
    SettingsError
        Unknown test id (checked before any test runs).
    InputError
        The phase-1 data is not available.
    """
    import pandas as pd

    from voxelomics.errors import SettingsError
    from voxelomics.filters import parse_filter

    ids = list(PHASE1) if test_ids is None else list(dict.fromkeys(test_ids))
    for t in ids:
        if t not in PHASE1:
            raise SettingsError(f"unknown IBSI-2 phase-1 test {t!r}; valid: {', '.join(PHASE1)}")
    rows = []
    for t in ids:
        response, reference = phase1_response(t)
        tol = 0.01 * float(reference.max() - reference.min())
        dev = float(np.abs(response - reference).max())
        rows.append({"test_id": t, "phantom": PHASE1[t][0], "filter": parse_filter(PHASE1[t][1]).prefixes()[0],
                     "max_abs_deviation": dev, "tolerance": tol, "deviation_fraction": dev / tol,
                     "within": bool(dev <= tol)})
    return pd.DataFrame(rows)


def phase2_config_name(config: str) -> str:
    """Canonical phase-2 configuration (``"3.B"``) from any spelling (``3b``, ``3.b``, ``3B``).

    Parameters
    ----------
    config : str

    Returns
    -------
    str
        A key of :data:`PHASE2_CONFIGS`.

    Raises
    ------
    SettingsError
        Not a phase-2 configuration.
    """
    from voxelomics.errors import SettingsError

    text = str(config).strip().upper().replace(".", "")
    name = f"{text[:-1]}.{text[-1:]}" if len(text) >= 2 else text
    if name not in PHASE2_CONFIGS:
        raise SettingsError(f"unknown IBSI-2 phase-2 configuration {config!r}; valid: 1.A … 9.B")
    return name


def phase2_features(config: str) -> dict[str, float]:
    """The 18 intensity statistics of one phase-2 configuration, named by IBSI tag.

    Parameters
    ----------
    config : str
        ``1.A`` … ``9.B`` (any spelling accepted by :func:`phase2_config_name`).

    Returns
    -------
    dict of str to float
        ``stat_mean`` … ``stat_rms`` of the configuration's response map (1.x: the image).

    Raises
    ------
    SettingsError
        Unknown configuration.
    """
    from voxelomics.extract import extract_features
    from voxelomics.io.reference import ibsi1_dir
    from voxelomics.settings import load_preset

    config = phase2_config_name(config)
    preset = load_preset(PHASE2_CONFIGS[config])
    base = ibsi1_dir() / "ct_phantom" / "nifti"
    feats = extract_features(base / "image" / "phantom.nii.gz", base / "mask" / "mask.nii.gz",
                             preset, case_id=f"ibsi2-{config}", naming="ibsi")
    # 1.x has no filter: the image's own statistics; otherwise the response map's
    prefix = f"{preset.filters[0].prefixes()[0]}_" if preset.filters else ""
    return {k[len(prefix):]: v for k, v in feats.items() if k.startswith(prefix + "stat_")}


def run_phase2(configs=None):
    """Compare the phase-2 reference values of the given configurations.

    Parameters
    ----------
    configs : iterable of str or None, default=None
        ``1.A`` … ``9.B``; ``None``: all 18.

    Returns
    -------
    pandas.DataFrame
        One row per reference value: ``config, tag, value, reference, tolerance,
        abs_error, within`` (a missing value does not pass).

    Raises
    ------
    SettingsError
        Unknown configuration (checked first).
    """
    import pandas as pd

    from voxelomics.compliance import within_tolerance
    from voxelomics.io.reference import read_ibsi2_phase2_reference

    names = list(PHASE2_CONFIGS) if configs is None else list(dict.fromkeys(phase2_config_name(c) for c in configs))
    ref = read_ibsi2_phase2_reference()
    rows = []
    for config in names:
        feats = phase2_features(config)
        for r in ref[ref["filter_id"] == config].itertuples(index=False):
            got = feats.get(r.tag, np.nan)
            rows.append({"config": config, "tag": r.tag, "value": got, "reference": r.value,
                         "tolerance": r.tolerance, "abs_error": abs(got - r.value),
                         "within": bool(within_tolerance(got, r.value, r.tolerance))})
    return pd.DataFrame(rows)


def print_phase1(table) -> bool:
    """Print the phase-1 table (test, filter, max deviation, tolerance, within).

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`run_phase1`.

    Returns
    -------
    bool
        True when every map is within tolerance.
    """
    from rich.table import Table

    from voxelomics._console import stdout_console

    t = Table(title="IBSI-2 phase 1: response maps (criterion: every voxel within 1 % of the reference range)")
    for col, just in (("test", "left"), ("phantom", "left"), ("filter", "left"), ("max |dev|", "right"),
                      ("tolerance", "right"), ("dev / tol", "right"), ("within", "center")):
        t.add_column(col, justify=just, overflow="fold")
    for r in table.itertuples(index=False):
        style = "green" if r.within else "red"
        t.add_row(r.test_id, r.phantom, r.filter, f"{r.max_abs_deviation:.3g}", f"{r.tolerance:.3g}",
                  f"{r.deviation_fraction:.3f}", f"[{style}]{'yes' if r.within else 'no'}[/]")
    n = int(table["within"].sum())
    t.add_row("[b]all[/]", "", "", "", "", "", f"[b]{n} / {len(table)}[/]")
    stdout_console().print(t)
    return bool(table["within"].all())


def print_phase2(table) -> bool:
    """Print the phase-2 table (configuration, feature, value, reference, tolerance, pass).

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`run_phase2`.

    Returns
    -------
    bool
        True when every reference value is matched.
    """
    from rich.table import Table

    from voxelomics._console import stdout_console

    console = stdout_console()
    t = Table(title="IBSI-2 phase 2: CT phantom, intensity statistics of the response maps")
    for col, just in (("config", "left"), ("feature", "left"), ("value", "right"), ("reference", "right"),
                      ("tolerance", "right"), ("pass", "center")):
        t.add_column(col, justify=just)
    for r in table.itertuples(index=False):
        style = "green" if r.within else "red"
        t.add_row(r.config, r.tag, f"{r.value:.4g}", f"{r.reference:.4g}", f"{r.tolerance:.3g}",
                  f"[{style}]{'yes' if r.within else 'no'}[/]")
    console.print(t)
    summary = Table(title="IBSI-2 phase 2 per configuration")
    summary.add_column("config")
    summary.add_column("matched / total", justify="right")
    for config, sub in table.groupby("config", sort=False):
        n = int(sub["within"].sum())
        style = "green" if n == len(sub) else "red"
        summary.add_row(config, f"[{style}]{n} / {len(sub)}[/]")
    summary.add_row("[b]all[/]", f"[b]{int(table['within'].sum())} / {len(table)}[/]")
    console.print(summary)
    return bool(table["within"].all())
