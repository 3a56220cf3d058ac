"""Reading, joining and splitting tables; every problem is a ModelError naming the column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from voxelomics.errors import ModelError
from voxelomics.model.tables import encode_batch, join_clinical, prepare_data, read_table


def test_read_table_errors(tmp_path):
    with pytest.raises(ModelError, match="table not found"):
        read_table(tmp_path / "missing.csv")
    (tmp_path / "t.xlsx").write_text("x")
    with pytest.raises(ModelError, match=r"unknown table format '.xlsx'"):
        read_table(tmp_path / "t.xlsx")


def test_join_matches_ids_as_text_and_rejects_duplicates():
    feats = pd.DataFrame({"pid": [1, 2, 3], "f": [0.1, 0.2, 0.3]})
    clin = pd.DataFrame({"pid": ["1", " 3"], "y": [0, 1]})
    joined = join_clinical(feats, clin, "pid")
    assert joined["pid"].tolist() == ["1", "3"] and joined["y"].tolist() == [0, 1]
    with pytest.raises(ModelError, match=r"identifier\(s\) \['1'\] appear more than once"):
        join_clinical(feats, pd.DataFrame({"pid": [1, 1], "y": [0, 1]}), "pid")
    with pytest.raises(ModelError, match="join column 'id' not in the feature table"):
        join_clinical(feats, clin, "id")


def test_prepare_data_roles():
    df = pd.DataFrame({"pid": ["a", "b", "c", "d"], "roi": "GTV", "f1": [1.0, 2, 3, 4],
                       "f2": [0.0, np.nan, 1, 1], "site": ["x", "y", "x", "y"],
                       "label": ["yes", "no", "yes", "no"]})
    d = prepare_data(df, target="label", id_col="pid", batch="site")
    assert d.feature_names == ["f1", "f2"] and d.dropped == ["roi"] and d.missing == {"f2": 1}
    assert list(d.X.columns) == ["batch", "f1", "f2"] and d.X["batch"].tolist() == [0, 1, 0, 1]
    assert d.classes == ["no", "yes"] and d.y.tolist() == [1, 0, 1, 0]
    with pytest.raises(ModelError, match=r"missing from the table: \['f3'\]"):
        prepare_data(df, features=["f1", "f3"])
    with pytest.raises(ModelError, match="target column 'label' has 1 missing values"):
        prepare_data(df.assign(label=["yes", None, "no", "no"]), target="label")


def test_survival_target_checks():
    df = pd.DataFrame({"f": [1.0, 2, 3], "t": [5.0, -1, 3], "e": [1, 0, 1]})
    with pytest.raises(ModelError, match="1 negative"):
        prepare_data(df, time="t", event="e")
    with pytest.raises(ModelError, match="event column 'e' must hold 0/1"):
        prepare_data(df.assign(t=[1.0, 2, 3], e=[1, 2, 0]), time="t", event="e")
    with pytest.raises(ModelError, match="needs both --time and --event"):
        prepare_data(df, time="t")


def test_encode_batch_known_levels_first():
    codes, levels = encode_batch(pd.Series(["b", "c", "a"], name="site"), ["a", "b"])
    assert levels == ["a", "b", "c"] and codes.tolist() == [1.0, 2.0, 0.0]
    with pytest.raises(ModelError, match="batch column 'site' has 1 missing values"):
        encode_batch(pd.Series(["a", None], name="site"))
