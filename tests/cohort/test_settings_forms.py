"""extract_cohort takes settings in the forms extract_features takes (QA: API consistency)."""

from __future__ import annotations

import pytest

from voxelomics.cohort import extract_cohort
from voxelomics.errors import SettingsError
from voxelomics.settings import load_preset


def _run(cases, settings, out):
    return extract_cohort(cases, out=out, settings=settings, scheduler="in-process", progress=False)


def test_settings_as_object_dict_yaml_path_or_preset_name(cohort, light_settings, tmp_path):
    cases = cohort[:1]
    by_object = _run(cases, light_settings, tmp_path / "object")
    assert by_object.exit_code == 0
    yaml = tmp_path / "light.yaml"
    yaml.write_text(light_settings.to_yaml())
    forms = {
        "dict": {"name": "cohort-test", "families": ["statistics", "morphology"]},
        "yaml_str": str(yaml),
        "yaml_path": yaml,
    }
    for label, form in forms.items():
        result = _run(cases, form, tmp_path / label)
        assert result.exit_code == 0, label
        assert result.settings_hash == by_object.settings_hash, label
        assert list(result.features.columns) == list(by_object.features.columns), label
    by_name = _run(cases, "ibsi-digital", tmp_path / "preset")
    assert by_name.exit_code == 0
    assert by_name.settings_hash == load_preset("ibsi-digital").settings_hash()


def test_unusable_settings_fail_before_any_case_runs(cohort, tmp_path):
    with pytest.raises(SettingsError, match="unknown preset 'ibsi-z'"):
        _run(cohort[:1], "ibsi-z", tmp_path / "a")
    with pytest.raises(SettingsError, match=r"missing\.yaml: settings file not found"):
        _run(cohort[:1], tmp_path / "missing.yaml", tmp_path / "b")
    with pytest.raises(SettingsError, match="a preset name or a YAML path; got int"):
        _run(cohort[:1], 3, tmp_path / "c")
    assert not (tmp_path / "a" / "run.json").exists()
