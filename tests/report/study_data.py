"""The small test study on the bundled data (imported by name: ``from study_data import ...``).

Kept out of ``conftest.py`` because several test folders have a ``conftest.py`` and
``from conftest import`` would pick whichever was imported first.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from testdata import DATA

CASES = DATA / "cases"
DICOM = DATA / "dicom" / "dcmqi_ct3slice_liver"

#: Made-up outcomes (not clinical data): 4/4 classes and 4 events / 4 censored among the
#: eight cases that extract; the two thin dcmqi segments fail before modelling.
CLINICAL = [
    # case_id, centre, response, months, death
    ("sts_001_ct", "TCIA STS", 1, 10.0, 1),
    ("sts_001_pet", "TCIA STS", 1, 14.0, 1),
    ("breast1_mr", "PyRadiomics", 0, 40.0, 0),
    ("brain2_mr", "PyRadiomics", 0, 35.0, 0),
    ("99000_CT_Liver", "dcmqi", 1, 8.0, 1),
    ("99000_CT_DARK_BLUE", "dcmqi", 0, 30.0, 0),
    ("99000_CT_LIGHT_BLUE", "dcmqi", 1, 20.0, 1),
    ("99000_CT_PURPLE", "dcmqi", 0, 44.0, 0),
    ("99000_CT_GREEN", "dcmqi", 0, 50.0, 0),
    ("99000_CT_ORANGE", "dcmqi", 1, 5.0, 1),
    ("ext_sts_ct", "external", 1, 12.0, 1),
    ("ext_sts_pet", "external", 0, 30.0, 0),
    ("ext_breast1", "external", 0, 41.0, 1),
    ("ext_brain2", "external", 1, 9.0, 0),
]

STUDY_YAML = """\
name: test study
description: Small study on the bundled data; outcomes made up for the tests.
out: results
cohort:
  manifest: cases.csv
  dicom: {dicom}
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
    models: [enet_lr]
  - name: survival
    time: months
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


def make_study(folder: Path) -> Path:
    """Write the test study (YAML, manifests, clinical table) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [("sts_001_ct", "sts_001_ct_image.nii.gz", "sts_001_ct_mask.nii.gz", "CT"),
            ("sts_001_pet", "sts_001_pet_suv_image.nii.gz", "sts_001_pet_suv_mask.nii.gz", "PT"),
            ("breast1_mr", "breast1_image.nrrd", "breast1_label.nrrd", "MR"),
            ("brain2_mr", "brain2_image.nrrd", "brain2_label.nrrd", "MR")]
    pd.DataFrame([{"case_id": c, "image": CASES / i, "mask": CASES / m, "label": 1, "modality": mod}
                  for c, i, m, mod in rows]).to_csv(folder / "cases.csv", index=False)
    external = dict(zip(("ext_sts_ct", "ext_sts_pet", "ext_breast1", "ext_brain2"), rows, strict=True))
    pd.DataFrame([{"case_id": e, "image": CASES / i, "mask": CASES / m, "label": 1, "modality": mod}
                  for e, (_, i, m, mod) in external.items()]).to_csv(folder / "external.csv", index=False)
    pd.DataFrame(CLINICAL, columns=["case_id", "centre", "response", "months", "death"]).to_csv(
        folder / "clinical.csv", index=False)
    (folder / "study.yaml").write_text(STUDY_YAML.format(dicom=DICOM))
    return folder / "study.yaml"
