"""Covariates: columns that enter a model as they are, outside feature selection.

A radiomic score is often built from radiomic features *plus* a few variables that are not
radiomic: the tumour location, the CT tube voltage (Sun et al., Lancet Oncol 2018 used
both), the contrast phase. ``voxelomics model cv|fit --covariates COL [--covariates COL
...]`` names them. They may come from the feature table (``dicom_kvp`` and the other
DICOM header columns of a ``features.parquet``) or from the clinical table (``--clinical``).

How they enter
--------------
* **Coding** (:func:`encode_covariates`): a numeric column (or text holding numbers) is used
  as it is; a text column (``location``: ``lung``, ``liver`` ...) is one-hot coded, its first
  level (alphabetical) being the reference, missing values a level of their own
  (``(missing)``). The levels are stored with a fitted model, so a new table is coded the
  same way; a level the model has not seen is coded as the reference, with a warning.
  More than :data:`MAX_LEVELS` levels is refused (an identifier, not a covariate).
* **Outside the feature steps**: the model's input is split in two blocks
  (:func:`with_covariates`, a :class:`~sklearn.compose.ColumnTransformer`): the radiomic
  features go through the usual steps (ComBat, imputation, the constant-feature and
  correlation filters, scaling, supervised selection), the covariates only through median
  imputation and z-scoring. No filter or selector can drop a covariate, and ComBat never
  touches one (it would remove the scanner effect a kVp column is there to model).
* **In the final model** the covariates sit beside the selected features. A penalised
  linear model (the elastic net, the Cox elastic net, logistic regression) penalises them
  like the features, as Sun et al. did, so the penalty can still shrink a covariate that
  adds nothing; a random forest splits on them like on any input. The default classifier
  (the ensemble) runs its own selection on everything it receives, so there a covariate
  can be left out of the linear member.
* **Never features otherwise**: a column named as a covariate is not a radiomic feature,
  and ``dicom_*`` columns become model inputs only when named here.

The ``covariates`` comparator (the covariates alone, linear/logistic/Cox model) is scored
beside the model, so a result says what the radiomic features add to them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from voxelomics.errors import ModelError

__all__ = ["MAX_LEVELS", "encode_covariates", "with_covariates", "combat_prefix",
           "trace_columns"]

#: Most levels a text covariate may have.
MAX_LEVELS = 20
#: Level given to missing values of a text covariate.
MISSING = "(missing)"


def encode_covariates(table: pd.DataFrame, names, *, levels: dict | None = None,
                      where=None) -> tuple[pd.DataFrame, dict, list[str]]:
    """Numeric model inputs of covariate columns (one-hot coding of text columns).

    Parameters
    ----------
    table : pandas.DataFrame
        The (joined) table.
    names : sequence of str
        Covariate columns (``--covariates``).
    levels : dict of str to list of str or None, default=None
        Levels of the text covariates of a fitted model (``covariate_levels`` of
        ``model.json``); None learns them from ``table``.
    where : str or Path or None
        Named in errors.

    Returns
    -------
    X : pandas.DataFrame of float of shape (n_samples, n_inputs)
        Numeric covariates under their own name; text covariates as ``name=level`` 0/1
        columns (reference level left out).
    levels : dict of str to list of str
        Text covariate -> its levels (reference first).
    notes : list of str
        Levels not seen by the fitted model (coded as the reference).

    Raises
    ------
    ModelError
        A covariate column is missing, or a text covariate has more than
        :data:`MAX_LEVELS` levels.
    """
    from voxelomics.model.columns import _as_number, _column_missing

    levels = dict(levels) if levels is not None else None
    learned: dict[str, list[str]] = {}
    parts, notes = [], []
    for name in names:
        if name not in table.columns:
            raise _column_missing(name, table.columns, "--covariates column", where)
        known = None if levels is None else levels.get(name)
        values, _ = _as_number(table[name]) if known is None else (None, "")
        if values is not None:
            parts.append(values.rename(name).astype(float))
            continue
        text = table[name].astype("string").str.strip().fillna(MISSING)
        text = text.mask(text == "", MISSING).astype(str)
        lev = known if known is not None else sorted(text.unique())
        if known is None and len(lev) > MAX_LEVELS:
            raise ModelError(f"covariate {name!r} holds {len(lev)} text values (e.g. {lev[:3]}); "
                             f"a covariate is a number or a category with at most {MAX_LEVELS} "
                             "levels (an identifier cannot be one)", path=where)
        if known is None and len(lev) < 2:
            raise ModelError(f"covariate {name!r} holds one value ({lev[0]!r}) in every row; "
                             "it cannot inform the model", path=where)
        unseen = sorted(set(text) - set(lev))
        if unseen:
            notes.append(f"covariate {name!r}: level(s) {unseen[:5]} were not in the training "
                         f"data; coded as the reference level {lev[0]!r}")
        learned[name] = list(lev)
        for level in lev[1:]:
            parts.append(pd.Series((text == level).astype(float).to_numpy(), index=table.index,
                                   name=f"{name}={level}"))
    X = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=table.index)
    return X.replace([np.inf, -np.inf], np.nan), learned, notes


def with_covariates(pipeline, grid: list[dict], n_covariates: int, n_inputs: int):
    """Split a model pipeline's input into radiomic features and covariates.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Steps ``combat`` ... ``select`` then ``clf`` (as built by
        :func:`~voxelomics.model.estimators.make_pipeline`).
    grid : list of dict
        Its hyper-parameter grid.
    n_covariates : int
        The last ``n_covariates`` input columns are covariates.
    n_inputs : int
        Number of input columns (batch, features and covariates).

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        ``inputs`` (a :class:`~sklearn.compose.ColumnTransformer`: ``features`` = the
        original steps before ``clf``; ``covariates`` = median imputation and z-score),
        then ``clf``.
    grid : list of dict
        Keys of the feature steps prefixed with ``inputs__features__``.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if n_covariates <= 0:
        return pipeline, grid
    feats = Pipeline(pipeline.steps[:-1])
    covs = Pipeline([("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                     ("scale", StandardScaler())])
    split = int(n_inputs) - int(n_covariates)
    inputs = ColumnTransformer(
        [("features", feats, slice(0, split)), ("covariates", covs, slice(split, int(n_inputs)))],
        remainder="drop", verbose_feature_names_out=False)
    pipe = Pipeline([("inputs", inputs), pipeline.steps[-1]])
    new_grid = [{(k if k == "clf" or k.startswith("clf__") else f"inputs__features__{k}"): v
                 for k, v in g.items()} for g in grid]
    return pipe, new_grid


def combat_prefix(pipeline) -> str:
    """Parameter prefix of a pipeline's ComBat step (``combat__`` or ``inputs__features__combat__``).

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline

    Returns
    -------
    prefix : str
    """
    names = dict(pipeline.steps)
    return "inputs__features__combat__" if "inputs" in names else "combat__"


def trace_columns(steps, names) -> np.ndarray:
    """Names of the columns that leave a sequence of fitted pipeline steps.

    Parameters
    ----------
    steps : list of (str, estimator)
        Fitted steps (a pipeline without its final model).
    names : sequence of str
        Input column names.

    Returns
    -------
    names : ndarray of str
        ComBat removes its batch column, selectors keep their support, the imputer drops
        columns it could not fill, a :class:`~sklearn.compose.ColumnTransformer` of
        :func:`with_covariates` concatenates its features' and covariates' names.
    """
    cur = np.asarray(names, dtype=object)
    for name, step in steps:
        if step is None or step == "passthrough":
            continue
        if hasattr(step, "transformers_"):  # ColumnTransformer of with_covariates
            blocks = []
            for _, sub, cols in step.transformers_:
                if isinstance(sub, str) or cols is None:
                    continue
                part = cur[cols] if isinstance(cols, slice) else cur[np.asarray(cols, int)]
                blocks.append(trace_columns(sub.steps, part) if hasattr(sub, "steps") else part)
            cur = np.concatenate(blocks) if blocks else cur[:0]
        elif name == "combat":
            cur = np.delete(cur, step.batch_index)
        elif hasattr(step, "get_support"):
            cur = cur[step.get_support()]
        elif hasattr(step, "statistics_"):  # SimpleImputer drops all-missing columns
            keep = ~np.isnan(step.statistics_) if not step.keep_empty_features else slice(None)
            cur = cur[keep]
    return cur
