"""Exit status of `voxelomics extract` over extract_cohort: 0 all good, 1 some failed, 2 bad arguments."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from voxelomics.cli import app


def test_exit_codes(cohort, broken, light_settings, tmp_path):
    from voxelomics.io.manifest import write_manifest

    settings = tmp_path / "settings.yaml"
    settings.write_text(light_settings.to_yaml())
    good = write_manifest(cohort[:3], tmp_path / "good.csv")
    mixed = write_manifest(cohort[:3] + [broken["unreadable"]], tmp_path / "mixed.csv")
    runner = CliRunner()

    def run(*args):
        return runner.invoke(app, ["extract", *map(str, args), "--settings", str(settings),
                                   "--workers", "2", "--no-progress"])

    ok = run(good, "--out", tmp_path / "a")
    assert ok.exit_code == 0, ok.output
    assert len(pd.read_parquet(tmp_path / "a" / "features.parquet")) == 3

    some = run(mixed, "--out", tmp_path / "a")  # same folder: the three good cases are reused
    assert some.exit_code == 1, some.output
    assert "3 reused" in some.output and "1 failed" in some.output
    assert list(pd.read_csv(tmp_path / "a" / "errors.csv")["case_id"]) == ["BAD_unreadable"]

    bad = run(good, "--out", tmp_path / "b", "--scheduler", "yarn")
    assert bad.exit_code == 2
    assert "scheduler 'yarn' is not understood" in bad.output


def test_unusable_out_folder_and_extra_column_exit_2(cohort, light_settings, tmp_path):
    from voxelomics.io.manifest import write_manifest

    settings = tmp_path / "settings.yaml"
    settings.write_text(light_settings.to_yaml())
    good = write_manifest(cohort[:1], tmp_path / "good.csv")
    clash = tmp_path / "clash.csv"
    clash.write_text(f"case_id,image,mask,statistics_mean\nA,{cohort[0].image},{cohort[0].mask},1\n")
    runner = CliRunner()

    def run(manifest, out):
        return runner.invoke(app, ["extract", str(manifest), "--out", str(out), "--settings",
                                   str(settings), "--no-progress"])

    bad_out = run(good, "/proc/voxelomics-out")
    assert bad_out.exit_code == 2, bad_out.output
    assert "/proc/voxelomics-out: cannot write to the output folder" in bad_out.output
    assert "Traceback" not in bad_out.output
    bad_column = run(clash, tmp_path / "out")
    assert bad_column.exit_code == 2, bad_column.output
    assert "extra column 'statistics_mean'" in bad_column.output
    assert not (tmp_path / "out").exists()
