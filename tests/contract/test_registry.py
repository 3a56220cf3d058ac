"""Registry contract: every feature of every family, checked the same way.

In the spirit of scikit-learn's ``test_common`` (one set of checks run over every
estimator) and PyRadiomics' two-way coverage tests (every documented feature is produced,
every produced feature is documented), these tests run over :func:`all_features` and the
IBSI-1 reference table ``data/ibsi1/ibsi1_reference_values.csv``:

* coverage both ways between registry columns and the table's ``tag`` column;
* IBSI identifiers, aggregation identifiers and ``ibsi_compliant`` flags agree with the table;
* readable names are unique, snake_case, prefixed by the family and spelled the British way;
* every IBSI identifier is cited as ``(IBSI: ID)`` in its family module's docstrings;
* the digital phantom gives finite values, a 1-voxel ROI gives every key without raising;
* public functions of ``voxelomics.features``, ``.preprocess``, ``.io`` and ``.filters`` carry numpydoc
  docstrings.

A new family or feature only needs a ``FEATURES`` entry to be checked here.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import math
import pkgutil
import re
import textwrap
from functools import cache

import numpy as np
import pandas as pd
import pytest

import voxelomics
from voxelomics.features import registry
from voxelomics.features._texture import IBSI_AGGREGATION_ID, IBSI_SUFFIX, Aggregation
from voxelomics.io.reference import read_ibsi1_reference
from voxelomics.volume import RoiMask, Volume

SPECS = registry.all_features()
SPEC_IDS = [s.name for s in SPECS]

#: IBSI's identifier of whole-ROI 3D aggregation (morphology, statistics, histograms, ...).
WHOLE_ROI_3D = "DHQ4"


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    """Every row of the reference table, with or without a value."""
    return read_ibsi1_reference(with_value_only=False)


@cache
def _aggregations(family: str) -> tuple[Aggregation | None, ...]:
    """The aggregations the registry expands for a family (None for whole-ROI families)."""
    if family not in registry.TEXTURE_FAMILIES:
        return (None,)
    first = registry.feature_specs(family)[0]
    produced = registry.readable_to_ibsi()
    return tuple(a for a in Aggregation if registry.column_name(first, a) in produced)


def _tags(spec) -> list[str]:
    """IBSI column names of one feature over its family's aggregations."""
    return [registry.ibsi_column_name(spec, a) for a in _aggregations(spec.family)]


# --------------------------------------------------------------------- (a) coverage
def test_registry_covers_every_family():
    assert SPECS
    assert {s.family for s in SPECS} == set(registry.FAMILIES)
    assert all(s.family in registry.FAMILIES for s in SPECS)


def test_every_reference_tag_is_produced(table):
    produced = set(registry.readable_to_ibsi().values())
    missing = sorted(set(table["tag"]) - produced)
    assert not missing, f"{len(missing)} IBSI tags have no registry column: {missing[:20]}"


def test_every_produced_ibsi_column_is_in_the_reference_table(table):
    known = set(table["tag"])
    extra = sorted(set(registry.readable_to_ibsi().values()) - known)
    assert not extra, f"{len(extra)} registry columns are not IBSI-1 tags: {extra[:20]}"


def test_readable_to_ibsi_is_one_to_one():
    mapping = registry.readable_to_ibsi()
    assert len(set(mapping.values())) == len(mapping)
    assert set(mapping) == {registry.column_name(s, a) for s in SPECS for a in _aggregations(s.family)}


def test_aggregations_are_those_ibsi_defines_for_the_family(table):
    """Texture suffixes map to the table's aggregation identifiers; other families are 3D whole-ROI."""
    codes = table.drop_duplicates("tag").set_index("tag")["aggregation_code"]
    bad = []
    for spec in SPECS:
        for agg in _aggregations(spec.family):
            tag = registry.ibsi_column_name(spec, agg)
            expected = WHOLE_ROI_3D if agg is None else IBSI_AGGREGATION_ID[agg]
            if tag in codes.index and codes[tag] != expected:
                bad.append(f"{tag}: table {codes[tag]}, registry {expected}")
    assert not bad, "\n".join(bad)
    # per family, the registry expands exactly the aggregations the table lists, no more
    for family, family_id in registry.FAMILIES.items():
        listed = set(table.loc[table["family_code"] == family_id, "aggregation_code"])
        ours = {WHOLE_ROI_3D if a is None else IBSI_AGGREGATION_ID[a] for a in _aggregations(family)}
        assert ours == listed, f"{family}: registry {sorted(ours)}, IBSI table {sorted(listed)}"
    # the suffixes used across texture families are exactly IBSI's nine aggregation suffixes
    suffixes = {IBSI_SUFFIX[a] for f in registry.TEXTURE_FAMILIES for a in _aggregations(f)}
    assert suffixes == set(IBSI_SUFFIX.values())


def test_family_codes_match_the_table(table):
    codes = table.groupby("tag")["family_code"].unique()
    for spec in SPECS:
        for tag in _tags(spec):
            assert list(codes[tag]) == [registry.FAMILIES[spec.family]], (spec.name, tag)


# ---------------------------------------------------------------- (b) IBSI identifiers
@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_ibsi_id_matches_the_table(spec, table):
    """``ibsi_id`` is the table's feature code, or its instance code where IBSI gives one
    (IVH: V10 is instance NK6P of BC2M, V10-V90 instance WITY of DDTU, ...)."""
    rows = table[table["tag"].isin(_tags(spec))]
    assert len(rows), f"no reference rows for {spec.name}"
    expected = rows["ibsi_instance_code"].where(rows["ibsi_instance_code"].notna(), rows["ibsi_code"])
    assert set(expected) == {spec.ibsi_id}, f"{spec.name}: registry {spec.ibsi_id}, table {set(expected)}"


def test_ibsi_ids_and_tags_are_unique():
    ids = [s.ibsi_id for s in SPECS]
    tags = [s.ibsi_tag for s in SPECS]
    assert len(set(ids)) == len(ids), sorted({i for i in ids if ids.count(i) > 1})
    assert len(set(tags)) == len(tags), sorted({t for t in tags if tags.count(t) > 1})
    assert all(re.fullmatch(r"[0-9A-Z]{4}", i) for i in ids)


# ------------------------------------------------------------------- (c) compliance
@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_compliance_flag_matches_reference_values(spec, table):
    """Non-compliant exactly when IBSI publishes no value for the feature in any configuration."""
    rows = table[table["tag"].isin(_tags(spec))]
    has_value = bool(rows["has_reference"].any())
    assert spec.ibsi_compliant == has_value, (
        f"{spec.name}: ibsi_compliant={spec.ibsi_compliant}, but the table has "
        f"{int(rows['has_reference'].sum())} of {len(rows)} rows with a value"
    )


# ------------------------------------------------------------------------- (d) names
_SNAKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
#: American spellings we never use (IBSI and this project write grey, normalised, neighbour).
_AMERICAN = ("gray", "normaliz", "neighbor", "center", "color")


def test_readable_names_are_unique():
    names = [s.name for s in SPECS]
    assert len(set(names)) == len(names), sorted({n for n in names if names.count(n) > 1})
    columns = list(registry.readable_to_ibsi())
    assert len(set(columns)) == len(columns)


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_readable_name_style(spec):
    assert _SNAKE.fullmatch(spec.name), f"{spec.name} is not snake_case"
    assert spec.name.startswith(f"{spec.family}_"), f"{spec.name} does not start with {spec.family}_"
    words = spec.name.split("_")
    bad = [w for w in _AMERICAN if any(w in part for part in words)]
    assert not bad, f"{spec.name}: American spelling {bad}"
    for agg in _aggregations(spec.family):
        assert _SNAKE.fullmatch(registry.column_name(spec, agg))


# -------------------------------------------------------------------- (e) docstrings
@cache
def _family_docs(family: str) -> str:
    """Module docstring plus the docstrings of every function and class defined in it, or in
    its ``<family>_features`` module (a family's feature functions, re-exported by it)."""
    module = importlib.import_module(f"voxelomics.features.{family}")
    parts = [module.__doc__ or ""]
    own = {module.__name__, module.__name__ + "_features"}
    for _, obj in inspect.getmembers(module, lambda o: inspect.isfunction(o) or inspect.isclass(o)):
        if getattr(obj, "__module__", None) in own:
            parts.append(obj.__doc__ or "")
    return "\n".join(parts)


def _cites(doc: str, ibsi_id: str) -> bool:
    """``(IBSI: ID)``, or ID inside a longer ``(IBSI: ...)`` group such as ``(IBSI: BC2M; V10 NK6P)``."""
    return re.search(rf"\(IBSI:[^()]*\b{re.escape(ibsi_id)}\b[^()]*\)", doc) is not None


@pytest.mark.parametrize("family", list(registry.FAMILIES))
def test_every_ibsi_id_is_cited_in_the_family_docstrings(family):
    doc = _family_docs(family)
    missing = [f"{s.name} {s.ibsi_id}" for s in registry.feature_specs(family) if not _cites(doc, s.ibsi_id)]
    assert not missing, f"{family}: no '(IBSI: ID)' in any docstring for {missing}"
    family_id = registry.FAMILIES[family]
    assert _cites(doc, family_id) or f"IBSI family {family_id}" in doc, f"{family}: {family_id} not cited"


# ------------------------------------------------------------ (f) values on two ROIs
def _expected_columns(settings) -> set[str]:
    from voxelomics.features._texture import directional_aggregations, zone_aggregations

    dims = settings.texture.dimensions
    aggs = {"glcm": directional_aggregations(dims), "glrlm": directional_aggregations(dims)}
    out = set()
    for spec in SPECS:
        if spec.family not in settings.families:
            continue
        if spec.family in ("glcm", "glrlm"):
            out |= {registry.column_name(spec, a) for a in aggs[spec.family]}
        elif spec.family in registry.TEXTURE_FAMILIES:
            out |= {registry.column_name(spec, a) for a in zone_aggregations(dims)}
        else:
            out.add(spec.name)
    return out


def _family_of(column: str) -> str:
    return next(f for f in sorted(registry.FAMILIES, key=len, reverse=True) if column.startswith(f + "_"))


def _assert_floats_and_documented_nans(values: dict, expected: set[str]) -> list[str]:
    assert set(values) == expected, (sorted(expected - set(values))[:10], sorted(set(values) - expected)[:10])
    nans = []
    for key, v in values.items():
        assert isinstance(v, float), f"{key}: {type(v).__name__}"
        assert not math.isinf(v), f"{key} is infinite"
        if math.isnan(v):
            nans.append(key)
            family = _family_of(key)
            assert "NaN" in _family_docs(family), f"{key} is NaN but {family} documents no NaN"
    return nans


@pytest.fixture(scope="module")
def ibsi_digital():
    from voxelomics.settings import load_preset

    return load_preset("ibsi-digital")


def test_digital_phantom_gives_finite_values(digital_phantom, ibsi_digital):
    image, mask, spacing = digital_phantom
    values = voxelomics.extract_features(
        Volume(image, spacing), RoiMask(mask, spacing), ibsi_digital)
    nans = _assert_floats_and_documented_nans(values, _expected_columns(ibsi_digital))
    assert not nans, f"NaN on the digital phantom: {nans}"


def test_one_voxel_roi_returns_every_key(ibsi_digital):
    """A single voxel makes many features undefined: they must be NaN or IBSI's value, not errors."""
    image = np.arange(27, dtype=np.float64).reshape(3, 3, 3)
    mask = np.zeros((3, 3, 3), dtype=bool)
    mask[1, 1, 1] = True
    spacing = (1.0, 1.0, 1.0)
    from voxelomics.errors import DiscretisationWarning

    with pytest.warns(DiscretisationWarning, match="only 1 grey level"):  # and it says so
        values = voxelomics.extract_features(Volume(image, spacing), RoiMask(mask, spacing), ibsi_digital)
    _assert_floats_and_documented_nans(values, _expected_columns(ibsi_digital))
    # whole-ROI intensity features of one voxel are that voxel's value
    assert values["statistics_mean"] == values["statistics_median"] == 13.0
    assert values["statistics_variance"] == 0.0


# ----------------------------------------------------------------- (g) numpydoc
_PACKAGES = ("voxelomics.features", "voxelomics.preprocess", "voxelomics.io", "voxelomics.report",
             "voxelomics.study", "voxelomics.filters")


def _public_modules():
    for name in _PACKAGES:
        pkg = importlib.import_module(name)
        yield pkg
        for info in pkgutil.iter_modules(pkg.__path__, prefix=f"{name}."):
            if not info.name.rsplit(".", 1)[1].startswith("_"):
                yield importlib.import_module(info.name)


def _public_functions():
    seen = set()
    for module in _public_modules():
        public = getattr(module, "__all__", None)
        for name, obj in inspect.getmembers(module, inspect.isfunction):
            if obj.__module__ != module.__name__ or name.startswith("_"):
                continue
            if public is not None and name not in public:
                continue
            key = f"{obj.__module__}.{obj.__qualname__}"
            if key not in seen:
                seen.add(key)
                yield key, obj


def _returns_value(func) -> bool:
    ann = inspect.signature(func).return_annotation
    if ann is not inspect.Signature.empty:
        return ann not in (None, "None", "NoReturn")
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        return False
    fn = tree.body[0]
    nested = {id(n) for node in ast.walk(fn) if node is not fn
              and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
              for n in ast.walk(node)}
    return any(isinstance(n, ast.Return) and n.value is not None
               and not (isinstance(n.value, ast.Constant) and n.value.value is None)
               and id(n) not in nested for n in ast.walk(fn))


_FUNCTIONS = sorted(_public_functions())


@pytest.mark.parametrize("func", [f for _, f in _FUNCTIONS], ids=[k for k, _ in _FUNCTIONS])
def test_public_function_has_numpydoc_docstring(func):
    doc = inspect.getdoc(func)
    assert doc, "no docstring"
    summary = doc.splitlines()[0].strip()
    assert summary and summary[-1] in ".)", f"summary line should be one sentence: {summary!r}"
    if _returns_value(func):
        assert re.search(r"^(Returns|Yields)\n-{4,}", doc, re.M), "returns a value but has no Returns section"
