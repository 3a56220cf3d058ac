"""A tiny synthetic cohort on disk (NIfTI), and tiny settings, for the deep-learning tests.

Each case is a 20 x 20 x 20 CT-like image (1.5 mm voxels, air at -1000 HU) holding one sphere
(the ROI). Class 1 spheres are larger and brighter than class 0 spheres, so a network can learn
the label in a few epochs; two cases share each patient (``patient_id``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from deep_cases import write_case

pytest.importorskip("torch")
pytest.importorskip("monai")

N_CASES = 24


@pytest.fixture(scope="session")
def cohort_dir(tmp_path_factory) -> Path:
    """Folder with ``manifest.csv`` of N_CASES synthetic cases (label ``y``, ``size_mm``)."""
    folder = tmp_path_factory.mktemp("deep_cohort")
    rows = []
    rng = np.random.default_rng(1)
    for i in range(N_CASES):
        y = i % 2
        radius = (6.0 if y else 3.5) + rng.uniform(-1.0, 1.0)
        hu = 60.0 if y else -250.0
        img, msk = write_case(folder, f"c{i:02d}", radius_mm=radius, hu=hu, seed=i)
        rows.append(dict(case_id=f"c{i:02d}", image=img.name, mask=msk.name, modality="CT",
                         patient_id=f"p{i // 2:02d}", y=y, size_mm=2 * radius,
                         score=radius + rng.normal(0, 0.5),
                         time=float(20 - 2 * radius + rng.uniform(0, 3)), event=int(rng.uniform() < 0.8),
                         grade=i % 3))
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)
    return folder


@pytest.fixture(scope="session")
def tiny_settings():
    """Deep settings small enough for a test: 8^3 crops of 3 mm, a 2-channel-wide CNN."""
    from voxelomics.deep.config import load_deep_settings

    return load_deep_settings(
        None, crop__size=(8, 8, 8), crop__spacing_mm=3.0, net__width=2, net__dropout=0.0,
        train__epochs=3, train__batch_size=8, train__patience=50, train__learning_rate=3e-3,
        train__threads=1, train__device="cpu", augment__rotate_deg=0.0, n_splits=3, n_repeats=1,
        n_boot=50)
