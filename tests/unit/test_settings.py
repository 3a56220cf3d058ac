import pytest
import yaml

from voxelomics.errors import SettingsError
from voxelomics.settings import PRESETS, Settings, load_preset, load_settings


def test_every_preset_roundtrips_through_yaml():
    for name, preset in PRESETS.items():
        again = Settings.from_yaml(preset.to_yaml())
        assert again == preset, name
        assert again.settings_hash() == preset.settings_hash()


def test_hash_ignores_the_label_but_not_processing():
    c = load_preset("ibsi-c")
    assert Settings.from_dict({**c.model_dump(), "name": "x"}).settings_hash() == c.settings_hash()
    assert load_preset("ibsi-d").settings_hash() != c.settings_hash()


def test_presets_follow_the_ibsi_configurations():
    # ibsi1_config_settings.csv: B resamples in-plane only, E uses a spline and FBN 1000 for the IVH.
    b, c, e = load_preset("ibsi-b"), load_preset("ibsi-c"), load_preset("ibsi-e")
    assert b.resampling.spacing_mm == (None, 2.0, 2.0)
    assert c.discretisation.method == "fbs" and c.discretisation.bin_width == 25
    assert c.ivh_discretisation.bin_width == 2.5
    assert e.resampling.interpolator == "bspline"
    assert e.ivh_discretisation.method == "fbn" and e.ivh_discretisation.n_bins == 1000
    assert load_preset("ibsi-a").texture.dimensions == ["2d", "2_5d"]
    assert load_preset("ibsi-digital").texture.dimensions == ["2d", "2_5d", "3d"]


def test_unknown_key_gets_did_you_mean():
    with pytest.raises(SettingsError, match=r"unknown setting 'discretisation.n_bin'.*did you mean 'n_bins'"):
        Settings.from_yaml("discretisation: {method: fbn, n_bin: 32}")


def test_unknown_family_and_preset():
    with pytest.raises(SettingsError, match="did you mean 'glcm'"):
        Settings.from_dict({"families": ["glmc"]})
    with pytest.raises(SettingsError, match="unknown preset 'ibsi-f'"):
        load_preset("ibsi-f")


def test_invalid_values_are_explained():
    with pytest.raises(SettingsError, match="needs n_bins"):  # FBS -> FBN: n_bins is not carried over
        Settings.from_dict({"preset": "ibsi-c", "discretisation": {"method": "fbn"}})
    with pytest.raises(SettingsError, match="range_min"):
        Settings.from_dict({"resegmentation": {"range_min": 400, "range_max": -1000}})
    with pytest.raises(SettingsError, match="not valid YAML"):
        Settings.from_yaml("a: [")


def test_preset_key_in_yaml_is_overridden_by_other_keys(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump({"preset": "ibsi-c", "discretisation": {"bin_width": 10.0}}))
    s = load_settings(p)
    assert s.discretisation.bin_width == 10.0
    assert s.resampling.spacing_mm == (2.0, 2.0, 2.0)
    with pytest.raises(SettingsError, match="not found"):
        load_settings(tmp_path / "missing.yaml")


def test_partial_settings_start_from_the_default_preset():
    assert Settings().model_dump(exclude={"name"}) == load_preset("default").model_dump(exclude={"name"})
    partial = Settings.from_yaml("discretisation: {method: fbn, n_bins: 16}")
    assert partial.resampling.spacing_mm == (2.0, 2.0, 2.0) and "CT" in partial.modality_overrides


def test_modality_codes_are_checked():
    from voxelomics.settings import normalise_modality

    assert normalise_modality("pt") == "PT"
    with pytest.raises(SettingsError, match="did you mean 'PT'"):
        normalise_modality("PET")
    with pytest.raises(SettingsError, match="did you mean 'PT'"):
        Settings.from_dict({"modality_overrides": {"PET": {"discretisation": {"bin_width": 0.5}}}})
    with pytest.raises(SettingsError, match="families"):
        Settings.from_dict({"families": []})


def test_overrides_apply_only_to_their_modality():
    d = load_preset("default")
    assert d.for_modality("CT").resegmentation.range_max == 400
    assert d.for_modality("pt").discretisation.bin_width == 0.25
    assert d.for_modality("MR").discretisation.method == "fbn"
    assert d.for_modality(None).modality_overrides == {}
    with pytest.raises(SettingsError, match="modality_overrides"):
        Settings.from_dict({"modality_overrides": {"CT": {"discretisation": {"method": "fbn", "n_bins": None}}}})


def test_texture_needs_at_least_one_dimension():
    with pytest.raises(SettingsError, match="texture.dimensions"):
        Settings.from_dict({"texture": {"dimensions": []}})


def test_a_user_override_merges_with_the_preset_overrides():
    """Issue 10, item 2: overriding CT's range keeps CT's rounding and FBS and PT's entry."""
    s = Settings.from_yaml("modality_overrides: {CT: {resegmentation: {range_min: -500}}}")
    ct, pt = s.for_modality("CT"), s.for_modality("PT")
    assert (ct.resegmentation.range_min, ct.resegmentation.range_max) == (-500, 400)
    assert ct.round_input and ct.resampling.round_intensities
    assert (ct.discretisation.method, ct.discretisation.bin_width) == ("fbs", 25)
    assert (ct.ivh_discretisation.method, ct.ivh_discretisation.bin_width) == ("fbs", 2.5)
    assert (pt.discretisation.method, pt.discretisation.bin_width) == ("fbs", 0.25)
    # the same over a named preset, and with the modality in another letter case
    s = Settings.from_dict({"preset": "default", "modality_overrides": {"pt": {"resegmentation": {"range_max": 30}}}})
    pt = s.for_modality("PT")
    assert (pt.resegmentation.range_min, pt.resegmentation.range_max, pt.discretisation.bin_width) == (0, 30, 0.25)
    assert set(s.modality_overrides) == {"CT", "PT"}


def test_sections_merge_key_by_key_and_overrides_can_be_dropped():
    s = Settings.from_yaml("resampling: {interpolator: bspline}")
    assert s.resampling.spacing_mm == (2.0, 2.0, 2.0) and s.resampling.interpolator == "bspline"
    assert set(Settings.from_yaml("modality_overrides: {PT: null}").modality_overrides) == {"CT"}
    assert Settings.from_yaml("modality_overrides: {}").modality_overrides == {}


def test_switching_the_discretisation_method_resets_the_other_methods_parameters():
    """Issue 10, item 3: ``{method: fbs, bin_width: 10}`` is complete as written, wherever it lands."""
    s = Settings.from_yaml("modality_overrides: {CT: {discretisation: {method: fbs, bin_width: 10}},"
                           " MR: {discretisation: {method: fbs, bin_width: 10}},"
                           " PT: {discretisation: {method: fbn, n_bins: 16}}}")
    for modality in ("CT", "MR"):
        d = s.for_modality(modality).discretisation
        assert (d.method, d.n_bins, d.bin_width) == ("fbs", None, 10)
    d = s.for_modality("PT").discretisation
    assert (d.method, d.n_bins, d.bin_width, d.lower_bound) == ("fbn", 16, None, None)
    top = Settings.from_dict({"preset": "ibsi-c", "discretisation": {"method": "fbn", "n_bins": 8}})
    assert (top.discretisation.n_bins, top.discretisation.bin_width) == (8, None)


def test_settings_that_would_fail_at_run_time_are_refused_when_read():
    """Issue 10, item 3: every modality's effective settings are checked with the kernels' rules."""
    with pytest.raises(SettingsError, match=r"modality_overrides.MR.*'fbn' takes no bin_width"):
        Settings.from_dict({"modality_overrides": {"MR": {"ivh_discretisation": {"bin_width": 2.0}}}})
    with pytest.raises(SettingsError, match="'fbs' takes no n_bins"):
        Settings.from_yaml("discretisation: {method: fbs, bin_width: 10, n_bins: 3}")
    with pytest.raises(SettingsError, match="'none' takes no n_bins"):
        Settings.from_dict({"preset": "ibsi-digital", "discretisation": {"n_bins": 3}})


def test_effective_settings_pass_the_kernels_checks():
    """What the settings accept, the discretisation kernel accepts (no run-time surprise)."""
    from voxelomics.preprocess.discretise import _check_params

    s = Settings.from_yaml("modality_overrides: {CT: {discretisation: {method: fbs, bin_width: 10}},"
                           " MR: {discretisation: {method: fbs, bin_width: 10, lower_bound: 0}}}")
    for modality in (None, "CT", "PT", "MR"):
        for d in (s.for_modality(modality).discretisation, s.for_modality(modality).ivh_discretisation):
            _check_params(d.method, d.n_bins, d.bin_width, d.lower_bound)


@pytest.mark.parametrize("text", ["", "  \n\t\n", "# truncated before the first key\n"])
def test_an_empty_settings_file_is_refused_naming_it(tmp_path, text):
    path = tmp_path / "empty.yaml"
    path.write_text(text)
    with pytest.raises(SettingsError, match=r"file .*empty\.yaml: the settings file is empty"):
        load_settings(path)


def test_a_file_changing_a_preset_is_named_after_both_and_hashed_by_content(tmp_path):
    same = tmp_path / "same.yaml"
    same.write_text("preset: ibsi-c\n")
    f1 = tmp_path / "f1.yaml"
    f1.write_text("preset: ibsi-c\nfamilies: [statistics]\n")
    own = tmp_path / "own.yaml"
    own.write_text("preset: ibsi-c\nname: mine\nfamilies: [statistics]\n")
    plain = tmp_path / "plain.yaml"
    plain.write_text("families: [statistics]\n")
    c = load_preset("ibsi-c")
    assert load_settings(same).name == "ibsi-c" and load_settings(same).settings_hash() == c.settings_hash()
    assert load_settings(f1).name == "ibsi-c+f1.yaml"
    assert load_settings(own).name == "mine"
    assert load_settings(plain).name == "default+plain.yaml"
    # the hash follows the content, not the name: same changes, same hash; others differ
    changed = Settings.from_dict({**c.model_dump(mode="json"), "families": ["statistics"]})
    assert load_settings(f1).settings_hash() == load_settings(own).settings_hash() == changed.settings_hash()
    assert load_settings(f1).settings_hash() != c.settings_hash()
    # the full dump (as stored in a feature table's provenance) reads back to the same settings
    assert Settings.from_yaml(load_settings(f1).to_yaml()) == load_settings(f1)
