"""``voxelomics report``: sections from what a folder holds, self-contained HTML, data links."""

from __future__ import annotations

import base64
import io
import json
import shutil
from html.parser import HTMLParser

import pandas as pd
import pytest
from typer.testing import CliRunner

from voxelomics.cli import app
from voxelomics.errors import InputError
from voxelomics.model.results import oof_wide
from voxelomics.report import build_report, write_report
from voxelomics.report import figures as F


class Page(HTMLParser):
    """Images, links, ids, figures and skipped lines of a report."""

    def __init__(self, text: str):
        super().__init__()
        self.images, self.links, self.ids, self.tags = [], [], set(), []
        self.figures = []  # number of CSV links per <figure>
        self.skipped = []
        self._fig = None
        self._skip = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "img":
            self.images.append(a.get("src", ""))
        if tag == "a":
            self.links.append(a)
            if self._fig is not None and a.get("download"):
                self._fig += 1
        if tag == "figure":
            self._fig = 0
        if tag == "p" and a.get("class") == "skipped":
            self._skip = ""

    def handle_endtag(self, tag):
        if tag == "figure":
            self.figures.append(self._fig)
            self._fig = None
        if tag == "p" and self._skip is not None:
            self.skipped.append(self._skip)
            self._skip = None

    def handle_data(self, data):
        if self._skip is not None:
            self._skip += data


def _csv(link: dict) -> pd.DataFrame:
    head, data = link["href"].split(",", 1)
    assert head == "data:text/csv;base64"
    return pd.read_csv(io.StringIO(base64.b64decode(data).decode()))


def test_report_of_a_study_is_self_contained(study_run):
    _, out = study_run
    page = Page((out / "report.html").read_text())
    assert "script" not in page.tags and "link" not in page.tags  # no JavaScript, no external CSS
    assert len(page.images) > 20
    for src in page.images:
        head, data = src.split(",", 1)
        assert head == "data:image/png;base64"
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    for link in page.links:
        href = link["href"]
        assert href.startswith(("#", "data:text/csv;base64,")), href  # nothing to fetch
        if href.startswith("#"):
            assert href[1:] in page.ids, f"broken anchor {href}"
        else:
            assert link["download"].endswith(".csv") and len(_csv(link).columns)
    assert page.figures and all(n >= 1 for n in page.figures)  # every figure has its data
    for section in ("summary", "run", "cohort", "qc", "failures", "features", "models", "provenance"):
        assert section in page.ids


def test_report_figures_carry_the_numbers_they_draw(study_run):
    _, out = study_run
    page = Page((out / "report.html").read_text())
    links = {a["download"]: a for a in page.links if a.get("download")}
    roc = _csv(next(a for n, a in links.items() if n.startswith("response_enet_lr_roc_internal")))
    cv = out / "models" / "response" / "enet_lr" / "cv"
    oof = pd.read_csv(cv / "oof_predictions.csv")  # long form: one row per patient and repeat
    metrics = json.loads((cv / "metrics.json").read_text())
    wide = oof_wide(oof)
    groups = oof.loc[oof["repeat"] == 0, "group"].astype(str).to_numpy()
    expected, _ = F.roc_data((wide["observed"].astype(str) == metrics["classes"][1]).to_numpy(int),
                             wide.filter(like="repeat_").to_numpy(float).T, groups=groups)
    pd.testing.assert_frame_equal(roc, expected, check_exact=False, rtol=1e-9)
    # the comparators' table behind the forest plot is metrics.json's, number for number
    comps = _csv(next(a for n, a in links.items() if n.startswith("response_enet_lr_comparators")))
    internal = comps[comps["cohort"] == "internal (CV)"].set_index("name")
    for name, c in metrics["comparators"].items():
        assert internal.loc[name, "mean"] == pytest.approx(c["auc"]["mean"], abs=1e-12)
        assert internal.loc[name, "difference"] == pytest.approx(c["difference"]["auc"]["mean"], abs=1e-12)
        assert [internal.loc[name, "difference_ci_low"], internal.loc[name, "difference_ci_high"]] == \
            pytest.approx(c["difference"]["auc"]["ci95"], abs=1e-12)
    null = _csv(next(a for n, a in links.items() if n.startswith("response_enet_lr_permutation_null")))
    assert sorted(null["null_auc"]) == pytest.approx(sorted(metrics["permutation_test"]["null_auc"]))
    failures = _csv(links["failures.csv"])
    assert set(failures["case_id"]) == {"99000_CT_GREEN", "99000_CT_ORANGE"}
    assert "ROI is empty after resampling" in failures["message"].iloc[0]
    qc = _csv(links["qc_table.csv"])
    assert len(qc) == 22 and "flags" in qc


def test_a_folder_with_nothing_to_report_is_refused_in_one_line(tmp_path):
    with pytest.raises(InputError, match="results folder does not exist"):
        build_report(tmp_path / "nope")
    with pytest.raises(InputError, match=r"no voxelomics results to report: no features.parquet"):
        build_report(tmp_path)  # empty
    (tmp_path / "errors.csv").write_text("case_id,step,error_type,message,roi,log\n")
    (tmp_path / "run.json").write_text(json.dumps({"status": "interrupted"}))
    with pytest.raises(InputError, match=r"run.json records an extraction with status 'interrupted' that "
                                         r"saved no case"):
        build_report(tmp_path)  # interrupted before any case finished or failed
    res = CliRunner().invoke(app, ["report", str(tmp_path), "--out", str(tmp_path / "r.html"), "--no-progress"])
    assert res.exit_code != 0 and not (tmp_path / "r.html").exists()
    assert str(tmp_path) in res.output and "no features.parquet" in res.output
    assert len(res.output.strip().splitlines()) == 1, res.output


def test_an_extraction_with_failures_only_is_reported_saying_why_the_rest_is_empty(tmp_path):
    (tmp_path / "errors.csv").write_text("case_id,step,error_type,message,roi,log\n"
                                         "p1,read_image,InputError,cannot read image,GTV,\n")
    (tmp_path / "run.json").write_text(json.dumps({"status": "interrupted"}))
    page = Page(build_report(tmp_path, qc=False))
    links = {a.get("download", ""): a for a in page.links}
    assert "failures.csv" in links
    assert any("no metrics.json" in s for s in page.skipped)


def test_report_of_an_extract_folder_draws_qc_from_the_provenance(study_run, tmp_path):
    _, out = study_run
    folder = shutil.copytree(out / "extraction", tmp_path / "extraction")
    res = CliRunner().invoke(app, ["report", str(folder), "--out", str(tmp_path / "r.html"), "--no-progress"])
    assert res.exit_code == 0, res.output
    page = Page((tmp_path / "r.html").read_text())
    assert (folder / "qc" / "qc.csv").is_file()  # drawn from the image paths in the provenance
    assert len(pd.read_csv(folder / "qc" / "qc.csv")) == 20
    assert any("no metrics.json" in s for s in page.skipped)
    assert any("no run_log.json" in s for s in page.skipped)
    write_report(folder, tmp_path / "r2.html", qc=False)  # the cached QC is reused
    assert len(Page((tmp_path / "r2.html").read_text()).images) == len(page.images)


def test_report_of_a_model_folder_and_of_metrics_a_later_version_may_write(study_run, tmp_path):
    _, out = study_run
    cv = shutil.copytree(out / "models" / "survival" / "coxnet" / "cv", tmp_path / "cv")
    metrics = json.loads((cv / "metrics.json").read_text())
    metrics["volume_baseline"] = {"mean": 0.61, "ci95": [0.5, 0.7], "per_repeat": [0.61]}  # a new metric
    metrics["something_new"] = {"nested": [1, 2, 3]}
    (cv / "metrics.json").write_text(json.dumps(metrics))
    reg = tmp_path / "regression"
    reg.mkdir()
    (reg / "metrics.json").write_text(json.dumps({"task": "regression", "r2": {"mean": 0.3, "ci95": [0.1, 0.5]}}))
    future = tmp_path / "future"
    future.mkdir()  # a task a later version may add
    (future / "metrics.json").write_text(json.dumps({"task": "competing_risks", "cif_auc": {"mean": 0.7}}))
    text = build_report(tmp_path)
    page = Page(text)
    assert "volume_baseline" in text and "r2" in text
    assert any("no figures are defined for task competing_risks" in s for s in page.skipped)
    assert any("_km_internal_" in n for n in (a.get("download", "") for a in page.links))
    assert any("no features.parquet" in s for s in page.skipped)


def test_a_section_that_fails_is_reported_not_fatal(study_run, monkeypatch):
    from voxelomics.report import feature_section

    _, out = study_run

    def broken(ctx):
        raise KeyError("a column a later version renamed")

    monkeypatch.setattr(feature_section, "features", broken)
    page = Page(build_report(out, qc=False))
    assert any("could not be drawn" in s and "renamed" in s for s in page.skipped)
    assert "models" in page.ids and len(page.images) > 20  # the rest of the page is there


def test_extraction_warnings_are_listed_when_the_outputs_record_them(study_run, tmp_path):
    """The warnings column of the table (JSON records as voxelomics extract writes them, or text)."""
    _, out = study_run
    folder = shutil.copytree(out / "extraction", tmp_path / "extraction")
    (folder / "warnings.csv").unlink(missing_ok=True)  # recorded in the table only
    table = pd.read_parquet(folder / "features.parquet")
    table["warnings"] = "[]"
    table.loc[0, "warnings"] = json.dumps([{"step": "features", "type": "DiscretisationWarning",
                                            "message": "only 2 grey levels"}])
    table.loc[1, "warnings"] = "rounding changed 90 % of the values"  # free text (other writers)
    table.to_parquet(folder / "features.parquet")
    page = Page(build_report(folder, qc=False))
    links = {a["download"]: a for a in page.links if a.get("download")}
    warned = _csv(links["extraction_warnings.csv"])
    assert list(warned["message"]) == ["only 2 grey levels", "rounding changed 90 % of the values"]
    assert list(warned["type"].fillna("")) == ["DiscretisationWarning", ""]
    assert list(warned["case_id"]) == list(table["case_id"][:2])


def test_warnings_csv_of_the_extraction_reaches_failures_qc_cards_and_summary(study_run, tmp_path):
    """warnings.csv (case_id, roi, image_type, step, type, message) as voxelomics extract writes it."""
    _, out = study_run
    folder = shutil.copytree(out, tmp_path / "results")
    (folder / "extraction" / "warnings.csv").write_text(
        "case_id,roi,image_type,step,type,message\n"
        "breast1_mr,1,original,features,DiscretisationWarning,only 3 grey levels after discretisation\n"
        "breast1_mr,1,original,preprocess,RoundingWarning,rounding changed 97 % of the ROI values\n"
        "99000_CT_Liver,Liver,original,read,GeometryWarning,contour clipped: 2 % of its area lost\n")
    text = build_report(folder)
    page = Page(text)
    links = {a["download"]: a for a in page.links if a.get("download")}
    warned = _csv(links["extraction_warnings.csv"])
    assert list(warned["type"]) == ["DiscretisationWarning", "RoundingWarning", "GeometryWarning"]
    assert set(warned["cohort"]) == {"cohort"}
    assert "3 warning(s) on 2 case(s)" in text
    assert "fewer than 4 grey levels after discretisation" in text  # what the type means
    card = text[text.index('id="qc-breast1_mr-1"'):]
    card = card[:card.index("</div></div>")]
    assert "only 3 grey levels" in card and "RoundingWarning" in card
    assert "cases with extraction warnings" in text
    (folder / "extraction" / "warnings.csv").write_text("case_id,roi,image_type,step,type,message\n")
    assert "No warning recorded during extraction" in build_report(folder)  # header only: none


def test_a_filtered_table_of_3000_features_gives_a_readable_page_of_bounded_size(study_run, tmp_path):
    """Response-map columns (log_s1mm_statistics_mean ...) are features; no table grows with them.

    The same results folder is reported twice: with its own table (about 100 features) and with
    26 response maps' features added (over 3,000 columns). The wide page may be a little larger
    (a fuller clustermap, a longer per-image-type table), never in proportion to the columns.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from voxelomics.report.feature_section import MAX_CLUSTERMAP, MAX_TABLE_ROWS

    _, out = study_run
    root = tmp_path / "wide"
    folder = shutil.copytree(out / "extraction", root / "extraction")
    shutil.copytree(out / "models" / "response" / "enet_lr", root / "models" / "response" / "enet_lr")
    narrow = build_report(root, qc=False)
    original = pq.read_table(folder / "features.parquet")  # keeps the voxelomics provenance metadata
    df = original.to_pandas()
    feats = [c for c in df.columns if c.startswith(("morphology_", "statistics_", "histogram_", "glcm_"))]
    prefixes = ([f"log_s{s}mm" for s in (1, 1.5, 2, 3)]
                + [f"wavelet_coif1_{b}{lev}" for b in ("lll", "llh", "lhl", "lhh", "hll", "hlh", "hhl", "hhh")
                   for lev in ("", "_2")]
                + ["laws_l5e5e5", "laws_e5e5e5", "laws_s5s5s5", "mean_d5", "gabor_s2", "gabor_s4"])
    rng = np.random.default_rng(0)
    maps = {f"{name}_{f}": df[f].to_numpy(float) * rng.uniform(0.5, 2.0) + rng.normal(size=len(df))
            for name in prefixes for f in feats}
    wide = pd.concat([df, pd.DataFrame(maps)], axis=1)
    assert wide.shape[1] > 3000 and len(prefixes) == 26
    pq.write_table(pa.Table.from_pandas(wide, preserve_index=False).replace_schema_metadata(
        original.schema.metadata), folder / "features.parquet")
    text = build_report(root, qc=False)
    print(f"report of {df.shape[1]} columns: {len(narrow) / 1e6:.2f} MB; of {wide.shape[1]} columns: "
          f"{len(text) / 1e6:.2f} MB")
    # bounded: 30x the columns, the page grows by the capped clustermap (its PNG and CSV) only
    assert len(text) < len(narrow) + 1_500_000, (len(narrow), len(text))
    page = Page(text)
    links = {a["download"]: a for a in page.links if a.get("download")}
    n = len(feats) * (1 + len(prefixes))
    assert f"{n} features: {len(feats)} of the original image and {n - len(feats)} of 26 filter response map(s)" \
        in text
    assert f"{MAX_CLUSTERMAP} of the {n} features are shown" in text
    fam = _csv(links["feature_families.csv"]).set_index("image_type")
    assert list(fam.index) == ["original", *prefixes]  # the original image first, then table order
    assert (fam["total"] == len(feats)).all() and fam["total"].sum() == n
    per_family = {f: sum(c.startswith(f + "_") for c in feats) for f in ("morphology", "statistics", "histogram", "glcm")}
    assert {k: int(fam.loc["log_s1.5mm", k]) for k in per_family} == per_family
    assert f"first {MAX_TABLE_ROWS} of 27 rows" not in text and MAX_TABLE_ROWS >= 27  # all 27 on the page
    corr = _csv(links["feature_correlation.csv"])
    assert len(corr) <= MAX_CLUSTERMAP and corr.shape[1] <= MAX_CLUSTERMAP + 1
    metrics = json.loads((root / "models" / "response" / "enet_lr" / "cv" / "metrics.json").read_text())
    used = set(metrics["selection_frequency"])
    assert used <= set(corr["feature"])  # the models' features are always in the clustermap
    assert {p for p in prefixes if any(f.startswith(p + "_") for f in corr["feature"])} == set(prefixes)
    dist = _csv(links["feature_distributions.csv"])
    shown = list(dist.columns[2:])  # case_id, the grouping column, then the features
    assert 0 < len(shown) <= 6 and set(shown) <= used | set(pd.read_csv(
        root / "models" / "response" / "enet_lr" / "final" / "selected_features.csv")["feature"])
    assert len(_csv(links["kruskal_wallis.csv"])) > 3000  # the test itself runs on every feature


def test_a_large_cohort_gives_capped_qc_cards_flagged_first_and_no_broken_link(study_run, tmp_path, monkeypatch):
    """With more cases than MAX_QC_CARDS, the failed and flagged cases get the cards; links only to them."""
    from voxelomics.report import qc_section

    _, out = study_run
    folder = shutil.copytree(out / "extraction", tmp_path / "extraction")
    full = Page(build_report(folder))
    cards = sorted(i for i in full.ids if i.startswith("qc-"))
    first = _csv(next(a for a in full.links if a.get("download") == "qc_table.csv"))
    bad = first[(first["flags"] != "[]") | first["error"].fillna("").astype(str).ne("")]
    assert 0 < len(bad) < len(first) == len(cards), (len(bad), len(first))
    monkeypatch.setattr(qc_section, "MAX_QC_CARDS", len(bad))
    text = build_report(folder)
    page = Page(text)
    shown = sorted(i for i in page.ids if i.startswith("qc-"))
    assert len(shown) == len(bad)  # exactly the failed and flagged cases
    wanted = {f"qc-{qc_section.slug(c)}-" for c in bad["case_id"]}
    assert all(any(i.startswith(w) for w in wanted) for i in shown)
    assert f"{len(bad)} of the {len(first)} cases are shown below" in text
    assert len(_csv(next(a for a in page.links if a.get("download") == "qc_table.csv"))) == len(first)
    for link in page.links:  # the flags' case lists link only to cards on the page
        if link["href"].startswith("#"):
            assert link["href"][1:] in page.ids, link["href"]
