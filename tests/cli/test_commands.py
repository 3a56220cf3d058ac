"""The ``voxelomics`` command: extraction exit codes, outputs, naming, settings, index, ibsi."""

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest
import SimpleITK as sitk
from typer.testing import CliRunner

from voxelomics.cli import app
from voxelomics.io.reference import bundled_data_dir, ibsi1_dir, read_ibsi1_reference

runner = CliRunner()
DIG = ibsi1_dir() / "digital_phantom"
CT = ibsi1_dir() / "ct_phantom"
CASES = bundled_data_dir() / "cases"


def _manifest(tmp_path, rows):
    path = tmp_path / "manifest.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _light_settings(tmp_path):
    path = tmp_path / "light.yaml"
    path.write_text("preset: ibsi-digital\nfamilies: [morphology, statistics, glcm]\n")
    return path


def test_extract_writes_features_errors_and_metadata(tmp_path):
    manifest = _manifest(tmp_path, [
        {"case_id": "dig1", "image": DIG / "image/phantom.nii.gz", "mask": DIG / "mask/mask.nii.gz", "outcome": 1},
        {"case_id": "dig2", "image": DIG / "image/phantom.nii.gz", "mask": DIG / "mask/mask.nii.gz", "outcome": 0},
    ])
    res = runner.invoke(app, ["extract", str(manifest), "--out", str(tmp_path / "out"),
                              "--settings", str(_light_settings(tmp_path)), "--workers", "1", "--no-progress"])
    assert res.exit_code == 0, res.output
    table = pd.read_parquet(tmp_path / "out/features.parquet")
    assert list(table.columns[:3]) == ["case_id", "roi", "image_type"]
    assert list(table["case_id"]) == ["dig1", "dig2"] and "outcome" in table.columns
    meta = pq.read_schema(tmp_path / "out/features.parquet").metadata
    assert b"voxelomics.settings_yaml" in meta and b"voxelomics.settings_hash" in meta
    errors = pd.read_csv(tmp_path / "out/errors.csv")
    assert len(errors) == 0 and {"case_id", "step", "error_type", "message"} <= set(errors.columns)
    run = json.loads((tmp_path / "out/run.json").read_text())
    assert run["settings_hash"] == meta[b"voxelomics.settings_hash"].decode()


def test_extract_exit_code_1_keeps_the_good_cases(tmp_path):
    empty = sitk.ReadImage(str(DIG / "mask/mask.nii.gz")) * 0
    sitk.WriteImage(empty, str(tmp_path / "empty.nii.gz"))
    (tmp_path / "broken.nii.gz").write_bytes(b"not an image")
    manifest = _manifest(tmp_path, [
        {"case_id": "good", "image": DIG / "image/phantom.nii.gz", "mask": DIG / "mask/mask.nii.gz"},
        {"case_id": "empty_roi", "image": DIG / "image/phantom.nii.gz", "mask": tmp_path / "empty.nii.gz"},
        {"case_id": "unreadable", "image": tmp_path / "broken.nii.gz", "mask": DIG / "mask/mask.nii.gz"},
    ])
    res = runner.invoke(app, ["extract", str(manifest), "--out", str(tmp_path / "out"),
                              "--settings", str(_light_settings(tmp_path)), "--workers", "1", "--no-progress"])
    assert res.exit_code == 1, res.output
    assert list(pd.read_parquet(tmp_path / "out/features.parquet")["case_id"]) == ["good"]
    errors = pd.read_csv(tmp_path / "out/errors.csv").set_index("case_id")
    assert errors.loc["empty_roi", "error_type"] == "EmptyRoiError"
    assert "empty.nii.gz" in errors.loc["empty_roi", "message"]
    assert errors.loc["unreadable", "error_type"] == "InputError"
    assert "broken.nii.gz" in errors.loc["unreadable", "message"]


@pytest.mark.parametrize("args, message", [
    (["--preset", "ibsi-z"], "unknown preset"),
    (["--naming", "short"], "--naming"),
])
def test_extract_exit_code_2_for_unusable_arguments(tmp_path, args, message):
    manifest = _manifest(tmp_path, [{"case_id": "a", "image": DIG / "image/phantom.nii.gz", "mask": DIG / "mask/mask.nii.gz"}])
    res = runner.invoke(app, ["extract", str(manifest), "--out", str(tmp_path / "o"), *args])
    assert res.exit_code == 2
    assert message in res.output


def test_extract_exit_code_2_for_a_missing_manifest_or_bad_settings(tmp_path):
    res = runner.invoke(app, ["extract", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "nope.csv" in res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("discretisation: {method: fbn, n_bin: 3}\n")
    manifest = _manifest(tmp_path, [{"case_id": "a", "image": DIG / "image/phantom.nii.gz", "mask": DIG / "mask/mask.nii.gz"}])
    res = runner.invoke(app, ["extract", str(manifest), "--out", str(tmp_path / "o"), "--settings", str(bad)])
    assert res.exit_code == 2 and "did you mean 'n_bins'" in res.output


@pytest.mark.parametrize("config", ["A", "B", "C", "D", "E"])
def test_ibsi_naming_produces_every_reference_tag(tmp_path, config):
    """Issue acceptance: --preset ibsi-X --naming ibsi on the CT phantom gives every tag of X."""
    manifest = _manifest(tmp_path, [{"case_id": "ct_phantom", "image": CT / "nifti/image/phantom.nii.gz",
                                     "mask": CT / "nifti/mask/mask.nii.gz"}])
    res = runner.invoke(app, ["extract", str(manifest), "--out", str(tmp_path / "o"), "--workers", "1",
                              "--preset", f"ibsi-{config.lower()}", "--naming", "ibsi", "--no-progress"])
    assert res.exit_code == 0, res.output
    columns = set(pd.read_parquet(tmp_path / "o/features.parquet").columns)
    ref = read_ibsi1_reference(with_value_only=False)
    missing = set(ref.loc[ref["config"] == config, "tag"]) - columns
    assert not missing


def test_settings_command_prints_a_preset_that_reloads(tmp_path):
    res = runner.invoke(app, ["settings", "--preset", "ibsi-e"])
    assert res.exit_code == 0 and "interpolator: bspline" in res.output
    (tmp_path / "e.yaml").write_text(res.output)
    again = runner.invoke(app, ["settings", "--settings", str(tmp_path / "e.yaml")])
    assert again.output.splitlines()[0] == res.output.splitlines()[0]  # same hash
    assert "ibsi-digital" in runner.invoke(app, ["settings", "--list"]).output


def test_features_command_lists_ibsi_ids():
    res = runner.invoke(app, ["features"])
    assert res.exit_code == 0 and "GYBY" in res.output and "glcm_joint_max" in res.output


def test_index_command_writes_a_manifest(tmp_path):
    res = runner.invoke(app, ["index", str(bundled_data_dir() / "dicom/dcmqi_ct3slice_liver"), "--out", str(tmp_path / "m.csv")])
    assert res.exit_code == 0, res.output
    m = pd.read_csv(tmp_path / "m.csv")
    assert {"case_id", "image", "mask", "roi"} <= set(m.columns) and len(m) >= 1


def test_ibsi_command_reports_full_compliance_for_the_digital_phantom():
    res = runner.invoke(app, ["ibsi", "--config", "dig"])
    assert res.exit_code == 0, res.output
    assert "482 / 482 reference values matched" in res.output


def test_extract_numeric_options_declare_the_ranges_they_enforce(tmp_path):
    """Help and behaviour agree: --case-timeout is > 0 (0 refused at parsing), not [x>=0]."""
    import typer.main

    params = {p.name: p for p in typer.main.get_command(app).commands["extract"].params}
    timeout = params["case_timeout"]
    assert timeout.min is None and timeout.callback is not None  # min=0 would show [x>=0]
    assert (params["workers"].min, params["retries"].min) == (1, 0)  # [x>=1], [x>=0]: as checked
    assert "(> 0)" in timeout.help and "(> 0)" in params["memory_limit"].help
    manifest = _manifest(tmp_path, [{"case_id": "a", "image": DIG / "image/phantom.nii.gz",
                                     "mask": DIG / "mask/mask.nii.gz"}])
    base = ["extract", str(manifest), "--out", str(tmp_path / "o"), "--no-progress"]
    for args, message in [(["--case-timeout", "0"], "must be a number of seconds > 0, got 0"),
                          (["--case-timeout", "-2.5"], "must be a number of seconds > 0, got -2.5"),
                          (["--workers", "0"], "greater than or equal to 1"),
                          (["--retries", "-1"], "greater than or equal to 0"),
                          (["--memory-limit", "0"], "memory_limit must be positive")]:
        res = runner.invoke(app, base + args)
        assert res.exit_code == 2, (args, res.output)
        assert message in " ".join(res.output.replace("│", " ").split()), (args, res.output)
        assert not (tmp_path / "o" / "features.parquet").exists()
    # valid values are accepted: the run goes ahead and succeeds (a generous timeout: the
    # suite runs in parallel on a loaded machine)
    res = runner.invoke(app, base + ["--case-timeout", "0.3e3", "--workers", "1", "--retries", "0",
                                     "--settings", str(_light_settings(tmp_path))])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("given", ["Dig", "DIG"])
def test_ibsi_command_takes_config_names_in_any_case(given):
    res = runner.invoke(app, ["ibsi", "--config", given])
    assert res.exit_code == 0, res.output
    assert "482 / 482 reference values matched" in res.output


def test_ibsi_config_names_are_case_insensitive_and_checked_first():
    from voxelomics.compliance import CONFIGS, config_name
    from voxelomics.errors import SettingsError

    assert [config_name(c.lower()) for c in CONFIGS] == list(CONFIGS)
    assert [config_name(c.upper()) for c in CONFIGS] == list(CONFIGS)
    assert config_name(" c ") == "C"
    with pytest.raises(SettingsError, match=r"unknown IBSI configuration 'z'; valid: dig, A, B, C, D, E"):
        config_name("z")
    res = runner.invoke(app, ["ibsi", "-c", "dig", "-c", "z"])  # refused before dig is run
    assert res.exit_code == 2 and "unknown IBSI configuration 'z'" in res.output


# ------------------------------------------------------------------- IBSI-2 and filters
def test_ibsi_chapter_2_phase_2_table(tmp_path):
    res = runner.invoke(app, ["ibsi", "--chapter", "2", "--phase", "2", "-c", "1a", "-c", "3.A"])
    assert res.exit_code == 0, res.output
    assert "stat_median" in res.output and "36 / 36" in res.output


def test_ibsi_chapter_2_piped_keeps_full_width_and_shows_no_progress_bar():
    # piped (as under CliRunner) the tables keep their width whatever COLUMNS says, as in
    # chapter 1, and no progress bar lands in the file; --config alone selects phase 2
    res = CliRunner().invoke(app, ["ibsi", "--chapter", "2", "-c", "1.A"], env={"COLUMNS": "50"})
    assert res.exit_code == 0, res.output
    rows = [line for line in res.output.splitlines() if "stat_median" in line]
    assert len(rows) == 1 and "yes" in rows[0], res.output  # one unwrapped row per feature
    assert "100%" not in res.output and "phase 1" not in res.output  # no progress bar, no phase 1


@pytest.mark.parametrize("args, message", [
    (["--phase", "3"], "--phase must be 1 or 2"),
    (["--phase", "2", "-c", "10z"], "unknown IBSI-2 phase-2 configuration"),
    (["--phase", "1", "-c", "1.A"], "--config selects IBSI-2 phase-2 configurations"),
])
def test_ibsi_chapter_2_refuses_unknown_phases_and_configs(args, message):
    res = runner.invoke(app, ["ibsi", "--chapter", "2", *args])
    assert res.exit_code == 2 and message in res.output


def test_extract_with_filters_writes_prefixed_columns_in_one_row(tmp_path):
    settings = tmp_path / "filters.yaml"
    settings.write_text(
        "preset: ibsi-c\nfamilies: [statistics]\n"
        "filters:\n  - {type: log, sigma_mm: 2}\n  - {type: wavelet, wavelet: haar, subbands: [LLH, HHH]}\n"
        "response_maps: {families: [statistics, glcm]}\n")
    manifest = _manifest(tmp_path, [{"case_id": "ct", "image": CT / "nifti/image/phantom.nii.gz",
                                     "mask": CT / "nifti/mask/mask.nii.gz"}])
    for naming, column in (("readable", "wavelet_haar_hhh_glcm_joint_max_3d_avg"), ("ibsi", "log_s2mm_stat_mean")):
        out = tmp_path / naming
        res = runner.invoke(app, ["extract", str(manifest), "--out", str(out), "--settings", str(settings),
                                  "--workers", "1", "--no-progress", "--naming", naming])
        assert res.exit_code == 0, res.output
        table = pd.read_parquet(out / "features.parquet")
        assert len(table) == 1 and table.loc[0, "image_type"] == "original+filtered"
        assert column in table.columns


def test_extract_with_a_bad_filter_is_exit_code_2_with_a_hint(tmp_path):
    settings = tmp_path / "bad.yaml"
    settings.write_text("filters:\n  - {type: wavelet, wavelet: coif, subbands: all}\n")
    manifest = _manifest(tmp_path, [{"case_id": "a", "image": DIG / "image/phantom.nii.gz", "mask": DIG / "mask/mask.nii.gz"}])
    res = runner.invoke(app, ["extract", str(manifest), "--out", str(tmp_path / "o"), "--settings", str(settings)])
    assert res.exit_code == 2 and "did you mean 'coif1'" in res.output


def test_settings_lists_and_prints_the_ibsi2_presets():
    assert "ibsi2-9b" in runner.invoke(app, ["settings", "--list"]).output
    res = runner.invoke(app, ["settings", "--preset", "ibsi2-4b"])
    assert res.exit_code == 0 and "kernel: L5E5E5" in res.output and "energy_distance: 7" in res.output


def test_settings_command_shows_the_effective_settings_of_a_modality(tmp_path):
    """Issue 10, item 2: ``settings --settings FILE --modality CT`` prints what a CT case uses."""
    import yaml

    path = tmp_path / "s.yaml"
    path.write_text("modality_overrides: {CT: {resegmentation: {range_min: -500}}}\n")
    res = runner.invoke(app, ["settings", "--settings", str(path), "--modality", "ct"])
    assert res.exit_code == 0, res.output
    assert "# effective settings for modality CT" in res.output
    ct = yaml.safe_load(res.output)
    assert ct["resegmentation"] == {"range_min": -500, "range_max": 400, "outlier_sigma": None}
    assert ct["round_input"] is True and ct["discretisation"]["bin_width"] == 25
    assert ct["modality_overrides"] == {}
    summary = runner.invoke(app, ["settings", "--settings", str(path)]).output
    assert "# CT: round_input=True" in summary and "# PT: resegmentation.range_min=0.0" in summary
    bad = runner.invoke(app, ["settings", "--preset", "default", "--modality", "PET"])
    assert bad.exit_code == 2 and "did you mean 'PT'" in bad.output


def test_version_option():
    from voxelomics import __version__

    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.strip() == f"voxelomics {__version__}"


def test_index_with_no_row_fails_and_writes_nothing(tmp_path):
    """Issue 10, item 12: a DICOM tree without any image+RTSTRUCT/SEG pair is not a success."""
    import shutil

    (tmp_path / "tree").mkdir()
    shutil.copy(next((CT / "dicom/image").glob("*.dcm")), tmp_path / "tree")  # one CT slice, no mask
    res = runner.invoke(app, ["index", str(tmp_path / "tree"), "--out", str(tmp_path / "m.csv")])
    assert res.exit_code == 1, res.output
    assert "no image series with an RTSTRUCT or SEG" in res.output
    assert not (tmp_path / "m.csv").exists()


def test_piped_tables_are_not_cut_to_80_columns():
    """Issue 10, item 12: CliRunner output is not a terminal, like a pipe."""
    res = runner.invoke(app, ["ibsi", "--config", "dig"])
    assert res.exit_code == 0, res.output
    assert "…" not in res.output
    assert "cm_joint_max_2D_avg" in res.output  # was cut to 'cm_joint_max_2D_a…'
    assert "│ grey level co-occurrence matrix " in res.output  # one line per family
    assert max(len(line) for line in res.output.splitlines()) > 80


def test_ibsi_table_gives_the_tolerance_of_the_worst_error(monkeypatch):
    """Issue 10, item 12: a large relative error on a matched row comes with its tolerance."""
    import voxelomics.compliance as compliance

    table = pd.DataFrame({
        "config": ["A", "A"], "family": ["intensity-volume histogram"] * 2, "tag": ["ivh_v90", "ivh_v10"],
        "value": [0.0011, 0.5], "tolerance": [0.00016, 0.01], "computed": [0.00124, 0.5],
        "abs_error": [0.00014, 0.0], "rel_error": [0.127, 0.0], "matched": [True, True]})
    monkeypatch.setattr(compliance, "run_compliance", lambda configs: table)
    res = runner.invoke(app, ["ibsi", "--config", "A"])
    assert res.exit_code == 0, res.output
    row = next(line for line in res.output.splitlines() if "ivh_v90" in line)
    assert "1.27e-01" in row and "1.45e-01" in row  # the error, and the tolerance 0.00016 / 0.0011
    assert "within tolerances that IBSI set wide relative to the value" in res.output


def test_features_command_lists_the_columns_an_extraction_writes(tmp_path):
    """Issue 10, item 12: the names match the table's columns, with units."""
    from voxelomics.extract import extract_features

    res = runner.invoke(app, ["features", "--preset", "ibsi-a"])
    assert res.exit_code == 0, res.output
    rows = [line.split() for line in res.output.splitlines() if not line.startswith("#")]
    names = [r[0] for r in rows]
    feats = extract_features(CT / "nifti/image/phantom.nii.gz", CT / "nifti/mask/mask.nii.gz", "ibsi-a")
    assert set(names) == set(feats) and len(names) == len(feats)
    units = {r[0]: r[1] for r in rows}
    assert units["morphology_volume"] == "mm3" and units["statistics_mean"] == "image"  # "image units"
    assert units["glcm_joint_max_2d_avg"] == "-"
    ibsi = runner.invoke(app, ["features", "--preset", "ibsi-a", "--naming", "ibsi"]).output
    assert "cm_joint_max_2D_avg" in ibsi and "GYBY" in ibsi


def test_features_command_lists_the_response_map_columns_of_filters(tmp_path):
    from voxelomics.extract import extract_features

    settings = tmp_path / "filters.yaml"
    settings.write_text("preset: ibsi-c\nfamilies: [statistics, glcm]\n"
                        "filters:\n  - {type: log, sigma_mm: 2}\n  - {type: wavelet, wavelet: haar, subbands: [LLH]}\n"
                        "response_maps: {families: [statistics]}\n")
    res = runner.invoke(app, ["features", "--settings", str(settings)])
    assert res.exit_code == 0, res.output
    names = {line.split()[0] for line in res.output.splitlines() if not line.startswith("#")}
    feats = extract_features(CT / "nifti/image/phantom.nii.gz", CT / "nifti/mask/mask.nii.gz", settings)
    assert names == set(feats)
    assert "log_s2mm_statistics_mean response units" in " ".join(res.output.split())
