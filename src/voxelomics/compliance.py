"""IBSI-1 compliance: run the phantoms through the presets and compare with the references.

``dig`` is the digital phantom with preset ``ibsi-digital``; ``A`` … ``E`` are the CT
phantom (NIfTI image and GTV-1 mask) with presets ``ibsi-a`` … ``ibsi-e``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CONFIGS", "config_name", "config_features", "run_compliance", "print_compliance",
           "within_tolerance"]

#: IBSI configuration → (phantom, preset).
CONFIGS: dict[str, tuple[str, str]] = {
    "dig": ("digital_phantom", "ibsi-digital"),
    "A": ("ct_phantom/nifti", "ibsi-a"),
    "B": ("ct_phantom/nifti", "ibsi-b"),
    "C": ("ct_phantom/nifti", "ibsi-c"),
    "D": ("ct_phantom/nifti", "ibsi-d"),
    "E": ("ct_phantom/nifti", "ibsi-e"),
}


def config_name(config: str) -> str:
    """The canonical name of an IBSI configuration, given in any letter case.

    Parameters
    ----------
    config : str
        ``dig``, ``A`` … ``E`` in any case (``"a"``, ``"DIG"``), surrounding spaces ignored.

    Returns
    -------
    str
        The key of :data:`CONFIGS` (``"dig"``, ``"A"`` … ``"E"``).

    Raises
    ------
    SettingsError
        Not one of the configurations.

    Examples
    --------
    >>> config_name("a"), config_name("DIG")
    ('A', 'dig')
    """
    from voxelomics.errors import SettingsError

    by_folded = {name.casefold(): name for name in CONFIGS}
    name = by_folded.get(str(config).strip().casefold())
    if name is None:
        raise SettingsError(f"unknown IBSI configuration {config!r}; valid: {', '.join(CONFIGS)} "
                            "(any letter case)")
    return name


def config_features(config: str) -> dict[str, float]:
    """Features of one IBSI configuration, named by IBSI tag.

    Parameters
    ----------
    config : {"dig", "A", "B", "C", "D", "E"}
        Letter case does not matter (:func:`config_name`).

    Returns
    -------
    dict of str to float

    Raises
    ------
    SettingsError
        Unknown configuration.
    """
    from voxelomics.extract import extract_features
    from voxelomics.io.reference import ibsi1_dir

    config = config_name(config)
    folder, preset = CONFIGS[config]
    base = ibsi1_dir() / folder
    image = next((base / "image").glob("*.nii*"))
    mask = next((base / "mask").glob("*.nii*"))
    return extract_features(image, mask, preset, case_id=f"ibsi-{config}", naming="ibsi")


def run_compliance(configs) -> pandas.DataFrame:  # noqa: F821
    """Compare every reference value of the given configurations.

    Parameters
    ----------
    configs : iterable of str
        IBSI configurations (``dig``, ``A`` … ``E``, any letter case).

    Returns
    -------
    pandas.DataFrame
        One row per reference value: ``config, family, tag, value, tolerance, computed,
        abs_error, rel_error, matched``; a missing feature counts as not matched.

    Raises
    ------
    SettingsError
        An unknown configuration (checked before any phantom is run).
    """
    import pandas as pd

    from voxelomics.io.reference import read_ibsi1_reference

    ref = read_ibsi1_reference()
    frames = []
    for config in dict.fromkeys(config_name(c) for c in configs):  # checked before any run
        feats = config_features(config)
        sub = ref[ref["config"] == config].copy()
        sub["computed"] = [feats.get(t, np.nan) for t in sub["tag"]]
        frames.append(sub)
    table = pd.concat(frames, ignore_index=True)
    table["abs_error"] = [
        abs(_as_printed(c, v, t) - v) for c, v, t in zip(table["computed"], table["value"], table["tolerance"], strict=True)
    ]
    scale = table["value"].abs().where(table["value"] != 0, 1.0)
    table["rel_error"] = table["abs_error"] / scale
    slack = 1e-9 * table["value"].abs().clip(lower=1.0)
    table["matched"] = table["abs_error"] <= table["tolerance"] + slack
    return table[
        ["config", "family", "tag", "value", "tolerance", "computed", "abs_error", "rel_error", "matched"]
    ]


def _as_printed(computed: float, value: float, tolerance: float) -> float:
    """The computed value at the precision of the reference.

    Reference rows with tolerance 0 are exact values printed to 3 significant digits in
    the IBSI manual (e.g. the digital phantom's mean 2.1486… is printed 2.15), so the
    computed value is rounded the same way before comparing.
    """
    if tolerance != 0 or not np.isfinite(computed) or computed == 0:
        return computed
    digits = 3 - int(np.floor(np.log10(abs(computed)))) - 1
    return float(np.round(computed, digits))


def within_tolerance(computed: float, value: float, tolerance: float) -> bool:
    """Whether a computed value matches an IBSI reference value.

    Parameters
    ----------
    computed, value, tolerance : float
        Computed value, IBSI reference value and tolerance.

    Returns
    -------
    bool
        ``|x - value| <= tolerance`` (with ``x`` rounded to 3 significant digits when the
        tolerance is 0, see :func:`_as_printed`); False for NaN.
    """
    if not np.isfinite(computed):
        return False
    x = _as_printed(computed, value, tolerance)
    return abs(x - value) <= tolerance + 1e-9 * max(1.0, abs(value))


def print_compliance(table) -> bool:
    """Print matched/total and the worst relative error per configuration and family.

    Next to the worst relative error stands that value's IBSI tolerance, relative to the
    reference value: a matched value can be far off in relative terms where the tolerance is
    wide (reference values near 0, or features that IBSI's teams computed with a large
    spread), and the table says so under it.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`run_compliance`.

    Returns
    -------
    bool
        True when every reference value matched.
    """
    from rich.table import Table

    from voxelomics._console import stdout_console

    console = stdout_console()
    wide_but_matched = []
    for config, sub in table.groupby("config", sort=False):
        t = Table(title=f"IBSI-1 configuration {config}")
        t.add_column("family")
        t.add_column("matched / total", justify="right")
        t.add_column("worst rel. error", justify="right")
        t.add_column("its rel. tolerance", justify="right")
        t.add_column("worst feature")
        for family, fam in sub.groupby("family", sort=False):
            worst = fam.sort_values("rel_error", ascending=False, na_position="first").iloc[0]
            n_ok = int(fam["matched"].sum())
            style = "green" if n_ok == len(fam) else "red"
            scale = abs(worst["value"]) if worst["value"] != 0 else 1.0
            rel_tol = worst["tolerance"] / scale
            missing = np.isnan(worst["rel_error"])
            if not missing and bool(worst["matched"]) and worst["rel_error"] > 0.01:
                wide_but_matched.append(f"{config} {worst['tag']}")
            t.add_row(
                family,
                f"[{style}]{n_ok} / {len(fam)}[/]",
                "missing" if missing else f"{worst['rel_error']:.2e}",
                "exact (3 s.f.)" if worst["tolerance"] == 0 else f"{rel_tol:.2e}",
                str(worst["tag"]),
            )
        n_ok = int(sub["matched"].sum())
        t.add_row("[b]all[/]", f"[b]{n_ok} / {len(sub)}[/]", "", "", "")
        console.print(t)
    if wide_but_matched:
        console.print(
            "note: a value matches when |computed - reference| <= IBSI's tolerance. Relative errors "
            "above 1 % on matched rows (" + ", ".join(wide_but_matched) + ") are within tolerances "
            "that IBSI set wide relative to the value (next column): reference values near 0, or "
            "features on which the IBSI teams' results spread widely.", highlight=False)
    total_ok = int(table["matched"].sum())
    console.print(f"[b]{total_ok} / {len(table)} reference values matched[/]")
    return bool(table["matched"].all())
