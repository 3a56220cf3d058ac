"""Per-case warning records: what degraded a case's numbers travels with its row.

Every warning issued while one case is read, preprocessed and computed (a mask moved onto
the image grid, a contour clipped at the image edge, too few grey levels, rounding of
non-integer data, an approximated Moran's I, ...) is recorded as a dict::

    {"step": "features", "type": "DiscretisationWarning", "message": "..."}

``step`` is ``read`` (image and mask files), ``preprocess`` (crop, rounding, resampling,
re-segmentation) or ``features`` (discretisation and the families). The records go to the
``warnings`` column of the case's row (a JSON list, ``[]`` when none), and from there to
``warnings.csv`` and the summary of a cohort run and to the report; the extraction
functions of the Python API issue them again as ordinary warnings.

Warnings about code rather than data (``DeprecationWarning``, ``PendingDeprecationWarning``,
``ImportWarning``, ``ResourceWarning``) are not recorded; they are passed on unchanged.
"""

from __future__ import annotations

import contextlib
import json
import warnings

__all__ = ["CaseWarnings", "STEPS"]

#: Steps a record names, in pipeline order.
STEPS = ("read", "preprocess", "features")

_NOT_ABOUT_DATA = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


class CaseWarnings:
    """Collects the warnings of one case, step by step.

    Attributes
    ----------
    records : list of dict
        ``{"step", "type", "message"}`` per distinct warning, in the order first issued.
    """

    def __init__(self):
        self.records: list[dict[str, str]] = []
        self._caught: list[warnings.WarningMessage] = []
        self._passed_on: list[warnings.WarningMessage] = []

    @contextlib.contextmanager
    def step(self, name: str):
        """Record the warnings issued inside the block (in any thread) under step ``name``.

        Parameters
        ----------
        name : {"read", "preprocess", "features"}

        Yields
        ------
        None
        """
        from voxelomics.io.dicom import warnings_per_case

        with warnings.catch_warnings(record=True) as caught, warnings_per_case():
            warnings.simplefilter("always")  # every occurrence in this case, not once per process
            try:
                yield
            finally:
                self._add(name, caught)

    def _add(self, name: str, caught) -> None:
        seen = {(r["type"], r["message"]) for r in self.records}
        for w in caught:
            if issubclass(w.category, _NOT_ABOUT_DATA):
                self._passed_on.append(w)
                continue
            key = (w.category.__name__, str(w.message))
            if key in seen:
                continue
            seen.add(key)
            self.records.append({"step": name, "type": key[0], "message": key[1]})
            self._caught.append(w)

    def to_json(self) -> str:
        """The records as the JSON text of the ``warnings`` column.

        Returns
        -------
        str
            A JSON list of ``{"step", "type", "message"}`` objects (``"[]"`` when none).
        """
        return json.dumps(self.records, ensure_ascii=False)

    def reissue(self) -> None:
        """Issue the recorded warnings again, under the caller's warning filters."""
        for w in [*self._caught, *self._passed_on]:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
