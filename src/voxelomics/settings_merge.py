"""How partial settings combine, and what each modality's settings are.

* :func:`merge_settings`: the rules that make "a settings file only needs the keys it
  changes" true (a preset below, a user's file on top; a modality's override on top of the
  base settings);
* :func:`describe_modalities`: what each modality's override changes, for
  ``voxelomics settings``;
* :func:`not_made_for`: why settings made for one modality (``Settings.modalities``) refuse
  a case of another.

Kept apart from :mod:`voxelomics.settings` (the validated models and the presets) so that
module stays readable; it imports nothing from it at import time.
"""

from __future__ import annotations

__all__ = ["merge_settings", "describe_modalities", "not_made_for", "DISCRETISATION_PARAMS",
           "DISCRETISATION_PARAMS_OF", "DISCRETISATION_SECTIONS"]

#: Parameters of the discretisation methods; each method uses its own (the others are None).
DISCRETISATION_PARAMS = ("n_bins", "bin_width", "lower_bound")
DISCRETISATION_PARAMS_OF = {"fbn": ("n_bins",), "fbs": ("bin_width", "lower_bound"), "none": ()}
#: Settings sections that are a discretisation.
DISCRETISATION_SECTIONS = ("discretisation", "ivh_discretisation")


def merge_settings(base: dict, over: dict) -> dict:
    """Merge partial settings ``over`` into ``base`` (both nested dicts), key by key.

    The rules that make "a settings file only needs the keys it changes" true:

    * sections merge key by key, at every depth (``resampling: {interpolator: bspline}``
      keeps the base's spacing);
    * ``modality_overrides`` merge per modality, and each modality's entry merges key by
      key with the base's entry for it (overriding CT's range keeps CT's rounding and
      FBS 25 HU, and the preset's PT entry); ``MOD: null`` drops one modality's entry and
      an explicitly empty ``modality_overrides: {}`` drops them all;
    * a discretisation section (``discretisation``, ``ivh_discretisation``) whose
      ``method`` changes starts afresh: the base's parameters of the other method
      (``n_bins`` for FBN; ``bin_width``, ``lower_bound`` for FBS) are dropped, so
      ``{method: fbs, bin_width: 10}`` over an FBN base is complete as written.

    Parameters
    ----------
    base : dict
        Complete settings (``Settings.model_dump(mode="json")``) or a modality override.
    over : dict
        The keys to change.

    Returns
    -------
    dict
        A new dict; neither argument is modified.
    """
    out = dict(base)
    for k, v in over.items():
        if k == "modality_overrides" and isinstance(v, dict) and isinstance(out.get(k), dict):
            if not v:
                out[k] = {}
                continue
            merged = dict(out[k])
            for modality, entry in v.items():
                key = _modality_key(modality, merged)
                if entry is None or not isinstance(entry, dict) or not isinstance(merged.get(key), dict):
                    merged.pop(key, None)
                    merged[modality] = entry
                else:
                    merged[key] = merge_settings(merged[key], entry)
            out[k] = {m: e for m, e in merged.items() if e is not None}
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            section = out[k]
            if k in DISCRETISATION_SECTIONS and "method" in v and v["method"] != section.get("method"):
                section = {p: q for p, q in section.items() if p not in DISCRETISATION_PARAMS}
            out[k] = merge_settings(section, v)
        else:
            out[k] = v
    return out


def _modality_key(modality, existing: dict):
    """The key of ``existing`` that names the same modality (``pt`` and ``PT``), else itself."""
    from voxelomics.errors import SettingsError
    from voxelomics.settings import normalise_modality

    try:
        code = normalise_modality(modality)
    except SettingsError:
        return modality  # reported by the validator, with its "did you mean"
    return next((k for k in existing if str(k).strip().upper() == code), modality)


def _differences(a: dict, b: dict, prefix: str = "") -> dict:
    """Dotted keys whose value differs between two nested dicts, with ``b``'s value."""
    out = {}
    for k in b:
        if isinstance(a.get(k), dict) and isinstance(b[k], dict):
            out.update(_differences(a[k], b[k], f"{prefix}{k}."))
        elif a.get(k) != b[k]:
            out[f"{prefix}{k}"] = b[k]
    return out


def describe_modalities(settings) -> str:
    """What each modality's override changes from the base settings, as YAML comments.

    Parameters
    ----------
    settings : voxelomics.settings.Settings

    Returns
    -------
    str
        One line per modality with an override, e.g. ``# PT: discretisation.bin_width=0.25``.
    """
    lines = []
    base = settings.for_modality(None).model_dump(mode="json")
    for modality in settings.modality_overrides:
        changed = _differences(base, settings.for_modality(modality).model_dump(mode="json"))
        changed.pop("name", None)
        lines.append(f"# {modality}: " + (", ".join(f"{k}={v}" for k, v in changed.items()) or "no change"))
    return "\n".join(lines)


def not_made_for(settings, modality: str) -> str:
    """Why ``settings`` (made for ``settings.modalities``) refuse a case of ``modality``.

    Parameters
    ----------
    settings : voxelomics.settings.Settings
    modality : str
        The case's DICOM modality code.

    Returns
    -------
    str
        The message: what in the settings is specific to their modality, and the ways out.
    """
    rg, d = settings.resegmentation, settings.discretisation
    what = []
    if rg.range_min is not None or rg.range_max is not None:
        what.append(f"re-segmentation to [{rg.range_min}, {rg.range_max}]")
    if settings.round_input or settings.resampling.round_intensities:
        what.append("rounding to integers")
    if d.method == "fbs":
        what.append(f"FBS bin width {d.bin_width:g}")
    what_s = f" ({', '.join(what)})" if what else ""
    return (f"settings {settings.name!r} are made for {', '.join(settings.modalities or [])}{what_s}, and "
            f"this case is {modality}: they would give numbers in the wrong units. Use settings for "
            f"{modality} (the 'default' preset treats CT, PT and MR each in their units), add "
            f"modality_overrides.{modality}, or list {modality} under 'modalities' to apply them as they are")
