"""Write clinical_synthetic.csv: SYNTHETIC outcomes for the example study (not clinical data).

The example study runs on real public images that come without outcomes. So that its models
have something to find, this script makes outcomes from each ROI's volume plus noise:

* z = standardised log ROI volume (mean and SD of each cohort: the study cohort and the
  external cohort separately);
* response_synthetic ~ Bernoulli(sigmoid(2 z)) (larger ROIs respond more often);
* os_months_synthetic, death_synthetic: exponential event time with mean 30 exp(-0.8 z)
  months (larger ROIs progress sooner), censored uniformly between 12 and 60 months.

The ROI volume is the mask's voxel count times the voxel volume, read through voxelomics.io
(the readers the study uses). Rows are the study's cohort rows (its manifests and its
indexed DICOM folders) and the external cohort's. Seeds are fixed, so a re-run gives the
same file. Run from this folder: ``python make_synthetic_outcomes.py``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from voxelomics.io import align_mask, index_dicom, read_image, read_manifest, read_mask
from voxelomics.study import load_study

HERE = Path(__file__).resolve().parent


def centre(case_id: str) -> str:
    """Source collection of a case (the 'centre' the report groups by)."""
    if case_id.startswith(("lung", "brain", "breast")):
        return "PyRadiomics test data"
    if case_id.lower().startswith("sts_001"):
        return "TCIA Soft-tissue-Sarcoma"
    if case_id.startswith("QIN"):
        return "TCIA QIN-HEADNECK"
    if case_id.startswith("LIDC"):
        return "TCIA LIDC-IDRI"
    return "dcmqi test data"


def volumes(manifests, dicom) -> pd.DataFrame:
    """ROI volume (mm³) of every cohort row, in cohort order."""
    rows = []
    cases = [c for m in manifests for c in read_manifest(m)]
    for d in dicom:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            df = index_dicom(d)
        tmp = HERE / "_index.csv"
        from voxelomics.io import write_manifest

        write_manifest(df, tmp)
        cases += read_manifest(tmp)
        tmp.unlink()
    for c in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = read_image(c.image, modality=c.modality, series_uid=(c.extra or {}).get("series_uid"))
            mask = align_mask(image, read_mask(c.mask, label=c.label, roi=c.roi, reference=image))
        rows.append({"case_id": c.case_id, "volume_mm3": mask.n_voxels * float(np.prod(image.spacing_mm))})
    return pd.DataFrame(rows)


def outcomes(vol: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Synthetic outcomes from the log volume (see the module docstring)."""
    rng = np.random.default_rng(seed)
    lv = np.log(vol["volume_mm3"].to_numpy())
    z = (lv - lv.mean()) / lv.std()
    response = (rng.random(z.size) < 1 / (1 + np.exp(-2 * z))).astype(int)
    t = rng.exponential(30 * np.exp(-0.8 * z))
    c = rng.uniform(12, 60, z.size)
    return pd.DataFrame({"case_id": vol["case_id"], "centre": [centre(i) for i in vol["case_id"]],
                         "response_synthetic": response, "os_months_synthetic": np.round(np.minimum(t, c), 1),
                         "death_synthetic": (t <= c).astype(int)})


if __name__ == "__main__":
    study = load_study(HERE / "study.yaml")
    ext = study.validation.external
    table = pd.concat([outcomes(volumes(study.cohort.manifest, study.cohort.dicom), seed=13),
                       outcomes(volumes(ext.manifest, ext.dicom), seed=14)], ignore_index=True)
    table.to_csv(HERE / "clinical_synthetic.csv", index=False)
    print(table.groupby("centre")[["response_synthetic", "death_synthetic"]].agg(["count", "sum"]))
