"""The study file: validation with "did you mean", and refusal before any work starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from study_data import make_study
from typer.testing import CliRunner

from testdata import REPO
from voxelomics.cli import app
from voxelomics.errors import InputError, SettingsError
from voxelomics.study import check_study, example_study, load_study

EXAMPLE = REPO / "examples" / "study" / "study.yaml"


@pytest.fixture
def study(tmp_path) -> Path:
    return make_study(tmp_path)


def _edit(path: Path, old: str, new: str) -> Path:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    return path


def test_the_bundled_example_is_valid():
    s = load_study(EXAMPLE)
    assert s.name == "example"
    assert [o.kind for o in s.outcomes] == ["binary", "survival"]
    assert [m.name for m in s.outcomes[0].models] == ["superlearner", "random forest"]
    assert s.cohort.patient_id == "patient_id"  # rows are grouped into patients explicitly
    assert s.clinical.on == "case_id"  # YAML 1.1 would read the key 'on' as True
    assert s.cohort.manifest[0] == EXAMPLE.parent / "cases.csv"
    assert s.model_settings(s.outcomes[0].models[1]).model == "rf"
    assert s.model_settings(s.outcomes[0].models[1]).n_splits == 3  # from validation
    assert example_study() == EXAMPLE.read_text()


def test_defaults_fill_a_minimal_study(tmp_path):
    (tmp_path / "m.csv").write_text("case_id,image,mask\na,a.nii.gz,a_mask.nii.gz\n")
    (tmp_path / "s.yaml").write_text("name: minimal\ncohort:\n  manifest: m.csv\n"
                                     "outcomes:\n  - {name: os, time: t, event: e}\n")
    s = load_study(tmp_path / "s.yaml")
    assert s.out == tmp_path / "results"
    assert [m.name for m in s.outcomes[0].models] == ["coxnet"]  # default model of the kind
    assert s.extraction_settings().name == "default"


@pytest.mark.parametrize("old, new, expected", [
    ("extraction:", "extration:", "unknown key 'extration'; did you mean 'extraction'?"),
    ("  scheduler: in-process", "  sheduler: in-process",
     "unknown key 'extraction.sheduler'; did you mean 'scheduler'?"),
    ("    target: response", "    traget: response", "unknown key 'outcomes[0].traget'; did you mean 'target'?"),
    ("  n_splits: 2", "  n_split: 2", "unknown key 'validation.n_split'; did you mean 'n_splits'?"),
    ("  group_by: centre", "  groupby: centre", "did you mean 'group_by'?"),
])
def test_typos_are_refused_with_did_you_mean(study, old, new, expected):
    with pytest.raises(SettingsError, match="did you mean") as err:
        load_study(_edit(study, old, new))
    assert expected in str(err.value)
    assert str(study) in str(err.value)  # the message names the file


def test_model_setting_typo_is_refused(study):
    _edit(study, "      - {name: enet_lr, model: enet_lr, n_permutations: 5}", "      - {name: lr, model: enet_lr, selectr: mrmr}")
    with pytest.raises(SettingsError, match="unknown model setting 'selectr' in model 'lr'; did you mean 'selector'"):
        check_study(load_study(study))


def test_extraction_setting_typo_is_refused(study):
    _edit(study, "    families: [", "    familes: [")
    with pytest.raises(SettingsError, match="did you mean 'families'"):
        check_study(load_study(study))


def test_missing_manifest_is_refused_naming_key_and_file(study, tmp_path):
    (tmp_path / "cases.csv").unlink()
    with pytest.raises(InputError, match=r"cohort\.manifest\[0\]: manifest file not found") as err:
        check_study(load_study(study))
    assert str(tmp_path / "cases.csv") in str(err.value)


def test_missing_dicom_folder_and_clinical_table_are_refused(study, tmp_path):
    _edit(study, "  dicom: ", "  dicom: /no/such/folder #")
    with pytest.raises(InputError, match=r"cohort\.dicom\[0\]: DICOM folder not found"):
        check_study(load_study(study))
    _edit(study, "  dicom: /no/such/folder #", "  dicom: ")
    (tmp_path / "clinical.csv").unlink()
    with pytest.raises(InputError, match=r"clinical\.table: clinical table not found"):
        check_study(load_study(study))


def test_outcome_absent_from_the_clinical_table_is_refused(study):
    _edit(study, "    target: response", "    target: responce")
    with pytest.raises(SettingsError, match=r"outcomes\[0\]\.target: column 'responce' is not in the "
                                            r"clinical table .*clinical\.csv \(did you mean 'response'\?\)"):
        check_study(load_study(study))


def test_outcome_absent_from_the_external_clinical_table_is_refused(study, tmp_path):
    (tmp_path / "ext_clinical.csv").write_text("case_id,response,os_months\next_sts_ct,1,3\n")
    _edit(study, "    manifest: external.csv", "    manifest: external.csv\n    clinical: {table: ext_clinical.csv}")
    with pytest.raises(SettingsError, match=r"outcomes\[1\]\.event: column 'death' is not in .*ext_clinical"):
        check_study(load_study(study))


def test_join_column_absent_is_refused(study):
    _edit(study, "  on: case_id", "  on: patient")
    with pytest.raises(SettingsError, match=r"clinical\.on: column 'patient' is not in the clinical table"):
        check_study(load_study(study))


@pytest.mark.parametrize("old, new, message", [
    ("    target: response", "    target: centre", "needs exactly 2 values in column 'centre'"),
    ("    models: [coxnet]", "    models: [rf]", r"outcomes\[1\]\.models\[0\] \(rf\): model 'rf' does not fit a survival task"),
    ("      - {name: enet_lr, model: enet_lr, n_permutations: 5}", "      - {name: cnn, type: deep}", "deep models are not available"),
    ("    time: os_months\n", "    time: os_months\n    target: response\n", "needs time and event, not target"),
    ("  dicom: ", "  timepoint: visit\n  dicom: ", "timepoint designs"),
])
def test_inconsistent_studies_are_refused(study, old, new, message):
    with pytest.raises(SettingsError, match=message):
        check_study(load_study(_edit(study, old, new)))


def test_continuous_outcome_is_refused_while_model_has_no_regression(study, tmp_path):
    from voxelomics.study.checks import regression_supported

    _edit(study, "    target: response", "    kind: continuous\n    target: os_months")
    if regression_supported():
        pytest.skip("this voxelomics model supports continuous targets")
    with pytest.raises(SettingsError, match="continuous outcomes need regression"):
        check_study(load_study(study))


def test_cli_refuses_a_bad_study_before_any_work(study, tmp_path):
    _edit(study, "    target: response", "    target: responce")
    res = CliRunner().invoke(app, ["run", str(study), "--no-progress"])
    assert res.exit_code == 2
    assert "outcomes[0].target" in res.output and "did you mean 'response'" in res.output
    assert not (tmp_path / "results").exists()  # nothing was started


def test_cli_example_and_check(study):
    res = CliRunner().invoke(app, ["run", "--example"])
    assert res.exit_code == 0 and res.output == EXAMPLE.read_text()
    res = CliRunner().invoke(app, ["run", str(study), "--check"])
    assert res.exit_code == 0, res.output
    assert "valid" in res.output
    assert not (study.parent / "results").exists()


def test_the_patient_column_reaches_model_cv_as_its_group(study):
    """cohort.patient_id is the --group of voxelomics model; 'none' (independent rows) is allowed."""
    from voxelomics.study.runner import _spec

    s = load_study(study)
    outcome = s.outcomes[0]
    spec = _spec(s, outcome, outcome.models[0], study.parent / "features.parquet", s.clinical)
    assert spec.group == "patient_id"
    s = load_study(_edit(study, "  patient_id: patient_id", "  patient_id: none"))
    assert check_study(s) == []
    assert _spec(s, outcome, outcome.models[0], study.parent / "f.parquet", s.clinical).group == "none"
    with pytest.raises(SettingsError, match=r"cohort\.patient_id: column 'patient' is not a column .*"
                                            r"did you mean 'patient_id'"):
        check_study(load_study(_edit(study, "  patient_id: none", "  patient_id: patient")))


def test_report_group_by_absent_is_refused_with_did_you_mean(study):
    _edit(study, "  group_by: centre", "  group_by: centr")
    with pytest.raises(SettingsError, match=r"report\.group_by: column 'centr' is not a column of the cohort "
                                            r"rows or the clinical table .*\(did you mean 'centre'\?\)"):
        check_study(load_study(study))


def test_report_group_by_may_name_a_dicom_header_column(study):
    _edit(study, "  group_by: centre", "  group_by: dicom_manufacturer")
    check_study(load_study(study))


def test_errors_name_the_study_key_they_come_from(study):
    _edit(study, "  n_splits: 2", "  n_splits: -3")
    with pytest.raises(SettingsError, match=r"^validation\.n_splits: ") as err:
        check_study(load_study(study))
    assert "model '" not in str(err.value)
    _edit(study, "  n_splits: -3", "  n_splits: 2")
    _edit(study, "  preset: default", "  preset: defualt")
    with pytest.raises(SettingsError) as err:
        check_study(load_study(study))
    assert str(err.value).startswith("extraction.preset: unknown preset 'defualt'; did you mean 'default'?")
    assert "file " not in str(err.value)
