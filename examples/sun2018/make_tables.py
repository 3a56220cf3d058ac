"""Make the tables of the Sun et al. (Lancet Oncol 2018) walk-through in docs/studies.md.

The radiomic features are real: two cohorts of non-small-cell lung cancer CT from Hosny et
al. (PLoS Med 2018), as distributed by radMLBench (``../shared/data/radmlbench``:
``Hosny2018A`` = HarvardRT, 293 patients, the training cohort; ``Hosny2018B`` = Maastro,
207 patients, the validation cohort). radMLBench gives PyRadiomics features z-scored within
each cohort; 76 of them are kept, unchanged: the 13 shape features and the first-order (19),
GLCM (28) and GLSZM (16) features of the LoG-filtered image (sigma 3 mm).

**Everything else is made for the example** (no CD8, response or survival was measured
for these tables here), from a known rule, so that the walk-through shows what the
numbers look like when a real association exists:

* ``dicom_kvp`` (feature tables): the CT tube voltage, drawn at random (100/120/140 kV);
  it has no effect on anything (a covariate the model may drop);
* ``location`` (clinical tables): the lobe (upper/middle/lower), drawn at random;
* a latent CD8 infiltration of each patient (log2 expression units):
  ``6 + 0.8 * s + 0.4 * [upper lobe] + N(0, 0.7^2)``, where ``s`` is a fixed weighted sum
  of five of the features (:data:`TRUE_WEIGHTS`) scaled to unit variance in the training
  cohort;
* training cohort: ``cd8b_expression`` = the latent value (the continuous target, as the
  CD8B gene expression of Sun et al.);
* validation cohort (no CD8 measured, as in Sun et al.): ``response`` ~ Bernoulli with
  ``logit P = -0.5 + 1.2 (cd8 - 6)``; overall survival ``os_months`` ~ exponential with
  hazard ``exp(-0.5 (cd8 - 6)) / 30`` per month (a higher CD8 lowers the hazard: HR 0.61
  per log2 unit), administratively censored at a uniform 12-60 months (``death`` = 1 for
  an observed death).

Run from the repository root (writes ``data/sun2018/``)::

    python examples/sun2018/make_tables.py [--source ../shared/data/radmlbench] [--out data/sun2018]

The output is deterministic (fixed seeds); ``tests/docs/test_studies_walkthrough.py`` checks
that it reproduces the bundled files when the source tables are present.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

#: Features that carry the made-up CD8 signal, with their weights (before scaling).
TRUE_WEIGHTS = {
    "log-sigma-3-mm-3D_glcm_Entropy": 0.5,
    "log-sigma-3-mm-3D_firstorder_Skewness": -0.4,
    "log-sigma-3-mm-3D_glszm_SmallAreaEmphasis": 0.4,
    "original_shape_Sphericity": 0.3,
    "log-sigma-3-mm-3D_firstorder_Kurtosis": -0.3,
}
FAMILIES = ("log-sigma-3-mm-3D_firstorder_", "log-sigma-3-mm-3D_glcm_", "log-sigma-3-mm-3D_glszm_")
SEEDS = {"train": 20180901, "validation": 20180902}


def _features(path: Path, prefix: str) -> pd.DataFrame:
    df = pd.read_parquet(path)
    keep = [c for c in df.columns if c.startswith("original_shape_") or c.startswith(FAMILIES)]
    out = df[["ID", *keep]].rename(columns={"ID": "case_id"})
    out["case_id"] = prefix + out["case_id"].astype(str).str.strip()
    return out


def _signal(features: pd.DataFrame) -> np.ndarray:
    return sum(w * features[c].to_numpy(float) for c, w in TRUE_WEIGHTS.items())


def make_tables(source: Path, out: Path) -> dict[str, Path]:
    """Write the four tables of the walk-through.

    Parameters
    ----------
    source : Path
        Folder holding ``Hosny2018A.parquet`` and ``Hosny2018B.parquet`` (radMLBench).
    out : Path
        Output folder.

    Returns
    -------
    files : dict of str to Path
    """
    out.mkdir(parents=True, exist_ok=True)
    train = _features(source / "Hosny2018A.parquet", "HarvardRT-")
    val = _features(source / "Hosny2018B.parquet", "Maastro-")
    scale = float(np.std(_signal(train)))  # fixed on the training cohort, used for both
    files = {}
    for name, feats in (("train", train), ("validation", val)):
        rng = np.random.default_rng(SEEDS[name])
        n = len(feats)
        kvp = rng.choice([100.0, 120.0, 140.0], size=n, p=[0.2, 0.6, 0.2])
        location = rng.choice(["upper lobe", "middle lobe", "lower lobe"], size=n,
                              p=[0.55, 0.10, 0.35])
        cd8 = (6.0 + 0.8 * _signal(feats) / scale + 0.4 * (location == "upper lobe")
               + rng.normal(0.0, 0.7, n))
        table = feats.copy()
        table.insert(1, "dicom_kvp", kvp)
        clinical = pd.DataFrame({"case_id": feats["case_id"], "location": location})
        if name == "train":
            clinical["cd8b_expression"] = np.round(cd8, 3)
        else:
            p = 1.0 / (1.0 + np.exp(-(-0.5 + 1.2 * (cd8 - 6.0))))
            clinical["response"] = (rng.uniform(size=n) < p).astype(int)
            hazard = np.exp(-0.5 * (cd8 - 6.0)) / 30.0
            t_death = rng.exponential(1.0 / hazard)
            t_cens = rng.uniform(12.0, 60.0, n)
            clinical["os_months"] = np.round(np.minimum(t_death, t_cens), 1)
            clinical["death"] = (t_death <= t_cens).astype(int)
        files[f"{name}_features"] = out / f"{name}_features.parquet"
        files[f"{name}_clinical"] = out / f"{name}_clinical.csv"
        table.to_parquet(files[f"{name}_features"], index=False, compression="zstd")
        clinical.to_csv(files[f"{name}_clinical"], index=False)
    return files


def main() -> None:
    root = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=root.parent / "shared/data/radmlbench")
    parser.add_argument("--out", type=Path, default=root / "data/sun2018")
    args = parser.parse_args()
    for key, path in make_tables(args.source, args.out).items():
        print(f"{key}: {path} ({path.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
