"""The Sun et al. 2018 walk-through of docs/studies.md: its commands run as written on the
bundled tables, write what the page says, and give the numbers it quotes."""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "studies.md"
MARK = "<!-- the commands below are run as written by tests/docs/test_studies_walkthrough.py -->"


def documented_commands() -> list[list[str]]:
    """The ``voxelomics`` commands of the marked bash block, continuation lines joined."""
    text = DOC.read_text()
    assert MARK in text, "the marked block of docs/studies.md is gone"
    block = text.split(MARK, 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    block = block.replace("\\\n", " ")
    cmds = [shlex.split(line) for line in block.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]
    assert all(c[0] == "voxelomics" for c in cmds), cmds
    return [c[1:] for c in cmds]


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory):
    from voxelomics.cli import app

    d = tmp_path_factory.mktemp("sun2018")
    (d / "data").symlink_to(REPO / "data", target_is_directory=True)
    cwd = os.getcwd()
    os.chdir(d)
    outputs = []
    try:
        for args in documented_commands():
            res = CliRunner().invoke(app, args)
            assert res.exit_code == 0, (args, res.output)
            outputs.append(res.output)
    finally:
        os.chdir(cwd)
    return d / "sun2018", outputs


def _doc_numbers(pattern: str) -> list[float]:
    m = re.search(pattern, DOC.read_text())
    assert m, pattern
    return [float(x.replace("−", "-")) for x in m.groups()]


@pytest.mark.slow
def test_documented_commands_write_the_documented_files(walkthrough):
    out, _ = walkthrough
    for f in ("cv/metrics.json", "cv/oof_predictions.csv", "cv/observed_vs_predicted.png",
              "model/model.json", "validation/metrics.json", "validation/predictions.csv",
              "validation/kaplan_meier.png", "validation/roc.png", "report.html"):
        assert (out / f).is_file(), f
    pred = pd.read_csv(out / "validation" / "predictions.csv")
    assert len(pred) == 207 and "CD8_score" in pred.columns


@pytest.mark.slow
def test_documented_numbers_are_the_outputs(walkthrough):
    """Every number the page quotes, against the files the commands wrote (to the last
    printed digit; the runs are seeded)."""
    out, _ = walkthrough
    cv = json.loads((out / "cv" / "metrics.json").read_text())
    meta = json.loads((out / "model" / "model.json").read_text())
    val = json.loads((out / "validation" / "metrics.json").read_text())

    def close(value, quoted, digits=3):
        assert abs(value - quoted) <= 0.6 * 10 ** -digits, (value, quoted)

    r2 = _doc_numbers(r"elastic net \+ covariates \| ([\d.]+) \(([\d.]+)-([\d.]+)\) \| "
                      r"([\d.]+) \(([\d.]+)-([\d.]+)\) \| ([\d.]+) \(([\d.]+)-([\d.]+)\)")
    for k, name in enumerate(("r2", "spearman", "mae")):
        close(cv[name]["mean"], r2[3 * k])
        close(cv[name]["ci95"][0], r2[3 * k + 1])
        close(cv[name]["ci95"][1], r2[3 * k + 2])
    assert meta["task"] == "regression" and meta["model"] == "enet"
    assert meta["covariate_columns"] == ["location", "dicom_kvp"]
    assert "dicom_kvp" not in meta["features"] and len(meta["features"]) == 76
    assert meta["covariate_levels"]["location"][0] == "lower lobe"
    cut = _doc_numbers(r"training scores: ([\d.]+)")[0]
    close(meta["score"]["cutoff"]["value"], cut)
    assert meta["score"]["name"] == "CD8_score"

    auc = _doc_numbers(r"AUC ([\d.]+) \(([\d.]+)-([\d.]+)\)")
    close(val["binary"]["auc"]["mean"], auc[0])
    close(val["binary"]["auc"]["ci95"][0], auc[1])
    close(val["binary"]["auc"]["ci95"][1], auc[2])
    s = val["survival"]
    hr = _doc_numbers(r"HR per unit of the score ([\d.]+) \(([\d.]+)-([\d.]+)\)")
    close(s["hr_per_unit"]["hr"], hr[0])
    close(s["hr_per_unit"]["ci95"][0], hr[1])
    close(s["hr_per_unit"]["ci95"][1], hr[2])
    sd = _doc_numbers(r"HR per SD of the score \(([\d.]+)\) ([\d.]+) \(([\d.]+)-([\d.]+)\)")
    close(s["hr_per_sd"]["sd"], sd[0])
    close(s["hr_per_sd"]["hr"], sd[1])
    close(s["c_index"]["mean"], _doc_numbers(r"C-index ([\d.]+)")[0])
    grp = _doc_numbers(r"HR ([\d.]+) \(([\d.]+)-([\d.]+)\) \| ([\d.]+); log-rank ([\d.]+)")
    close(s["hr_high_vs_low"]["hr"], grp[0])
    close(s["logrank"]["p_value"], grp[4], digits=4)
    assert s["n_events"] == 125 and s["cutoff"] == meta["score"]["cutoff"]["value"]
    assert s["groups"]["high"]["n"] == 103 and s["groups"]["low"]["n"] == 104
    diff = _doc_numbers(r"AUC difference \+([\d.]+), ([\d.]+) to ([\d.]+)")
    close(val["binary"]["comparators"]["volume"]["difference"]["auc"]["mean"], diff[0])


@pytest.mark.slow
def test_report_shows_the_score_and_its_figures(walkthrough):
    import html

    out, _ = walkthrough
    text = html.unescape((out / "report.html").read_text())
    plain = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text))
    assert "Score CD8_score applied unchanged to the external cohort" in plain
    assert "HR per unit of the score 0.501 (95% CI 0.380 to 0.659)" in plain
    assert "log-rank test chi² 7.58, p = 0.00591" in plain
    assert "R² 0.512 (95% CI 0.416 to 0.591)" in plain
    # the summary gives the score's external associations, not "not run"
    assert "score: AUC 0.704 (95% CI 0.631–0.767); score: HR per SD 0.586" in plain
    assert text.count("<img") >= 5


def test_make_tables_reproduces_the_bundled_tables(tmp_path, shared_data):
    """``examples/sun2018/make_tables.py`` rebuilds ``data/sun2018`` from radMLBench."""
    import importlib.util

    src = shared_data / "radmlbench"
    if not (src / "Hosny2018A.parquet").is_file():
        pytest.skip("radMLBench Hosny2018 tables not available")
    spec = importlib.util.spec_from_file_location("make_tables",
                                                  REPO / "examples/sun2018/make_tables.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    files = mod.make_tables(src, tmp_path)
    for key, path in files.items():
        bundled = REPO / "data" / "sun2018" / path.name
        if path.suffix == ".csv":
            assert path.read_text() == bundled.read_text(), key
        else:
            pd.testing.assert_frame_equal(pd.read_parquet(path), pd.read_parquet(bundled))
