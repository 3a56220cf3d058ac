"""Intensity-volume histogram features (IBSI 3.5)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _helpers import to_ibsi

from testdata import IBSI1, assert_matches_reference
from voxelomics.errors import EmptyRoiError, InputError, SettingsError
from voxelomics.features import ivh

TAG = {s.name: s.ibsi_tag for s in ivh.FEATURES}


def test_registry_entries_match_reference_table():
    ref = pd.read_csv(IBSI1 / "ibsi1_reference_values.csv")
    ref = ref[ref["tag"].str.startswith("ivh_")].drop_duplicates("tag").set_index("tag")
    assert sorted(TAG.values()) == sorted(ref.index)
    for spec in ivh.FEATURES:
        assert spec.name.startswith("ivh_")
        expected = ref.loc[spec.ibsi_tag, "ibsi_instance_code"]
        expected = ref.loc[spec.ibsi_tag, "ibsi_code"] if pd.isna(expected) else expected
        assert spec.ibsi_id == expected
        assert spec.ibsi_compliant == (spec.ibsi_tag != "ivh_auc")


def test_digital_phantom_matches_ibsi(digital_phantom, ibsi_reference):
    image, mask, _ = digital_phantom
    out = ivh.compute(image[mask], method="none")
    assert set(out) == set(TAG)
    tags = [t for t in TAG.values() if t != "ivh_auc"]
    assert_matches_reference(to_ibsi(out, ivh), ibsi_reference, "dig", tags)


def test_digital_phantom_curve_and_auc_match_the_manual_table(digital_phantom):
    # IBSI 3.5 table: gamma = 0, 0.2, ..., 1 and nu = 1.000, 0.324, 0.324, 0.311, 0.095, 0.095;
    # the manual gives AUC 0.32 for the digital phantom (trapezoidal rule on that table).
    image, mask, _ = digital_phantom
    h = ivh.intensity_volume_histogram(image[mask], method="none")
    np.testing.assert_allclose(h.intensity, [1, 2, 3, 4, 5, 6])
    np.testing.assert_allclose(h.gamma, [0, 0.2, 0.4, 0.6, 0.8, 1.0])
    np.testing.assert_allclose(h.nu, [1.000, 0.324, 0.324, 0.311, 0.095, 0.095], atol=5e-4)
    assert ivh.compute(image[mask])["ivh_auc"] == pytest.approx(0.32, abs=5e-3)


def test_range_sets_the_total_range_for_discrete_intensities():
    # values 0..9, range [0, 20]: gamma_i = i / 20, so V10 = nu at i = 2 = 0.8
    x = np.arange(10.0)
    out = ivh.compute(x, method="none", range_min=0, range_max=20)
    assert out["ivh_v10"] == pytest.approx(0.8)
    assert out["ivh_v90"] == 0.0  # i = 18: no voxel
    assert out["ivh_i10"] == 9.0  # nu_9 = 0.1
    assert out["ivh_i90"] == 1.0  # nu_1 = 0.9


def test_fbs_uses_bin_centres_and_the_range():
    # w = 0.5 from 0 to 2: bins [0, .5), [.5, 1), [1, 1.5), [1.5, 2); centres .25 .. 1.75; G = [.25, 1.75]
    x = np.array([0.1, 0.2, 0.6, 1.2, 1.9])
    h = ivh.intensity_volume_histogram(x, method="fbs", bin_width=0.5, range_min=0.0, range_max=2.0)
    np.testing.assert_allclose(h.intensity, [0.25, 0.75, 1.25, 1.75])
    np.testing.assert_allclose(h.gamma, [0, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(h.nu, [1.0, 0.6, 0.4, 0.2])
    out = ivh.compute(x, method="fbs", bin_width=0.5, range_min=0.0, range_max=2.0)
    assert out["ivh_i90"] == 0.75 and out["ivh_v90"] == pytest.approx(0.2)


def test_fbn_uses_bin_indices_and_ignores_the_range():
    x = np.array([0.0, 1.0, 2.0, 3.0])
    a = ivh.compute(x, method="fbn", n_bins=4)
    b = ivh.compute(x, method="fbn", n_bins=4, range_min=-100, range_max=100)
    assert a == b
    h = ivh.intensity_volume_histogram(x, method="fbn", n_bins=4)
    np.testing.assert_allclose(h.intensity, [1, 2, 3, 4])
    np.testing.assert_allclose(h.nu, [1.0, 0.75, 0.5, 0.25])


def test_constant_roi():
    out = ivh.compute(np.full(4, 5.0))
    assert np.isnan(out["ivh_v10"]) and out["ivh_auc"] == 0.0  # gamma is 0/0
    assert out["ivh_i10"] == 6.0  # above the grid, where nu = 0
    ranged = ivh.compute(np.full(4, 5.0), range_min=0, range_max=10)
    assert ranged["ivh_v10"] == 1.0 and ranged["ivh_v90"] == 0.0


def test_errors():
    with pytest.raises(EmptyRoiError, match="empty"):
        ivh.compute(np.array([]))
    with pytest.raises(InputError, match="non-finite"):
        ivh.compute(np.array([1.0, np.inf]))
    with pytest.raises(SettingsError, match="integer"):
        ivh.compute(np.array([1.0, 1.5]), method="none")
    with pytest.raises(SettingsError, match="unknown IVH"):
        ivh.compute(np.array([1.0]), method="equal")
    with pytest.raises(SettingsError, match="n_bins"):
        ivh.compute(np.array([1.0, 2.0]), method="fbn")
    with pytest.raises(SettingsError, match="below lower_bound"):
        ivh.compute(np.array([1.0, 2.0]), method="fbs", bin_width=1.0, lower_bound=1.5)
