"""The small test study on the bundled data (imported by name: ``from study_data import ...``).

Kept out of ``conftest.py`` because several test folders have a ``conftest.py`` and
``from conftest import`` would pick whichever was imported first.

A valid design with patient-grouped folds: the rows are ROIs of 16 patients (STS_001 has a
CT and a PET row, the dcmqi liver series four segments; every other patient one row), so
2 outer x 2 inner folds of whole patients hold both classes. The external cohort is six
other patients. Outcomes: ``response`` of the LIDC-IDRI nodules is their real malignancy
label (radiologists' consensus); every other outcome value is made up for the tests.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from testdata import DATA

CASES = DATA / "cases"
DICOM = DATA / "dicom" / "dcmqi_ct3slice_liver"
LIDC = DATA / "lidc_nodules"

#: Made-up outcomes for the rows without one (not clinical data); the two thin dcmqi
#: segments (GREEN, ORANGE) fail before modelling.
CLINICAL = [
    # case_id, centre, response, os_months, death
    ("sts_001_ct", "TCIA STS", 1, 10.0, 1),
    ("sts_001_pet", "TCIA STS", 1, 10.0, 1),
    ("breast1_mr", "PyRadiomics", 0, 40.0, 0),
    ("brain2_mr", "PyRadiomics", 0, 35.0, 0),
    ("99000_CT_Liver", "dcmqi", 1, 8.0, 1),
    ("99000_CT_DARK_BLUE", "dcmqi", 0, 30.0, 0),
    ("99000_CT_LIGHT_BLUE", "dcmqi", 1, 20.0, 1),
    ("99000_CT_PURPLE", "dcmqi", 0, 44.0, 0),
    ("99000_CT_GREEN", "dcmqi", 0, 50.0, 0),
    ("99000_CT_ORANGE", "dcmqi", 1, 5.0, 1),
]
#: Made-up follow-up of the LIDC-IDRI patients (months, death), in data/lidc_nodules order.
LIDC_FOLLOW_UP = [(12.0, 1), (9.0, 1), (26.0, 0), (41.0, 1), (15.0, 1), (48.0, 0), (7.0, 1), (33.0, 0),
                  (22.0, 1), (52.0, 0), (18.0, 0), (29.0, 1), (11.0, 1), (37.0, 0), (45.0, 0), (14.0, 1),
                  (58.0, 0), (24.0, 1)]

STUDY_YAML = """\
name: test study
description: Small study on the bundled data; outcomes made up for the tests (LIDC-IDRI response is the malignancy label).
out: results
cohort:
  manifest: cases.csv
  dicom: {dicom}
  patient_id: patient_id
extraction:
  preset: default
  settings:
    families: [morphology, statistics, histogram, glcm]
  scheduler: in-process
clinical:
  table: clinical.csv
  on: case_id
outcomes:
  - name: response
    target: response
    models:
      - {{name: enet_lr, model: enet_lr, n_permutations: 5}}
  - name: survival
    time: os_months
    event: death
    models: [coxnet]
validation:
  n_splits: 2
  n_repeats: 1
  inner_splits: 2
  n_boot: 50
  external:
    manifest: external.csv
report:
  group_by: centre
"""


def lidc_rows(which: str) -> pd.DataFrame:
    """The bundled LIDC-IDRI nodules of the ``internal`` or ``external`` set (absolute paths)."""
    table = pd.read_csv(LIDC / "manifest.csv")
    table = table.assign(image=[str(LIDC / p) for p in table["image"]],
                         mask=[str(LIDC / p) for p in table["mask"]])
    return table[table["set"] == which]


def make_study(folder: Path) -> Path:
    """Write the test study (YAML, manifests, clinical table) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [("sts_001_ct", "sts_001_ct_image.nii.gz", "sts_001_ct_mask.nii.gz", "CT", "STS_001"),
            ("sts_001_pet", "sts_001_pet_suv_image.nii.gz", "sts_001_pet_suv_mask.nii.gz", "PT", "STS_001"),
            ("breast1_mr", "breast1_image.nrrd", "breast1_label.nrrd", "MR", "breast1"),
            ("brain2_mr", "brain2_image.nrrd", "brain2_label.nrrd", "MR", "brain2")]
    cases = [{"case_id": c, "image": CASES / i, "mask": CASES / m, "label": 1, "modality": mod,
              "patient_id": p} for c, i, m, mod, p in rows]
    lidc = pd.read_csv(LIDC / "manifest.csv")
    clinical = list(CLINICAL)
    for (_, r), (months, death) in zip(lidc.iterrows(), LIDC_FOLLOW_UP, strict=True):
        clinical.append((r["case_id"], "TCIA LIDC-IDRI", int(r["malignant"]), months, death))
    for which, name, extra in (("internal", "cases.csv", cases), ("external", "external.csv", [])):
        t = lidc_rows(which)
        pd.DataFrame(extra + [{"case_id": r["case_id"], "image": r["image"], "mask": r["mask"], "label": 1,
                               "modality": "CT", "patient_id": r["patient_id"]} for _, r in t.iterrows()]
                     ).to_csv(folder / name, index=False)
    pd.DataFrame(clinical, columns=["case_id", "centre", "response", "os_months", "death"]).to_csv(
        folder / "clinical.csv", index=False)
    (folder / "study.yaml").write_text(STUDY_YAML.format(dicom=DICOM))
    return folder / "study.yaml"
