"""DICOM header fields that studies use as covariates and batch variables.

:func:`header_covariates` reads them from an image series' headers into
``Volume.metadata["covariates"]``; the feature table carries them as typed columns before
the features (``dicom_kvp``, ``dicom_convolution_kernel`` ...), so technical covariates
(tube voltage, reconstruction kernel, slice thickness) and batch variables (scanner
manufacturer and model, institution, acquisition date) need no hand-made spreadsheet.

Rules (decisions)
    * Values come from the series' first slice (in slice order), except the acquisition
      date: the earliest ``AcquisitionDate`` of all slices, else ``SeriesDate``, else
      ``StudyDate`` (the column ``dicom_acquisition_date_source`` says which).
    * A tag that is absent or empty gives ``None`` (a missing value), never a guess: an
      absent ``ContrastBolusAgent`` does not prove that no contrast was given.
    * Numbers are floats in the units of the column name; a multi-valued text (a
      ``ConvolutionKernel`` of two values) is joined with ``\\``, as DICOM writes it.
"""

from __future__ import annotations

import datetime as _dt

__all__ = ["HEADER_COLUMNS", "header_covariates", "COLUMN_TYPES"]

#: Column -> (DICOM keyword, type, meaning). Types: ``float``, ``str``, ``date``.
HEADER_COLUMNS: dict[str, tuple[str, str, str]] = {
    "dicom_manufacturer": ("Manufacturer", "str", "scanner manufacturer"),
    "dicom_manufacturer_model": ("ManufacturerModelName", "str", "scanner model"),
    "dicom_institution": ("InstitutionName", "str", "institution"),
    "dicom_acquisition_date": ("AcquisitionDate", "date", "acquisition date (earliest slice)"),
    "dicom_acquisition_date_source": ("", "str", "tag the date came from"),
    "dicom_kvp": ("KVP", "float", "CT tube voltage (kV)"),
    "dicom_tube_current_ma": ("XRayTubeCurrent", "float", "CT tube current (mA)"),
    "dicom_exposure_mas": ("Exposure", "float", "CT exposure (mAs)"),
    "dicom_convolution_kernel": ("ConvolutionKernel", "str", "reconstruction kernel"),
    "dicom_contrast_agent": ("ContrastBolusAgent", "str", "contrast agent (absent: unknown)"),
    "dicom_slice_thickness_mm": ("SliceThickness", "float", "nominal slice thickness (mm)"),
    "dicom_pixel_spacing_y_mm": ("PixelSpacing", "float", "row spacing, PixelSpacing[0] (mm)"),
    "dicom_pixel_spacing_x_mm": ("PixelSpacing", "float", "column spacing, PixelSpacing[1] (mm)"),
    "dicom_magnetic_field_strength_t": ("MagneticFieldStrength", "float", "MR field strength (T)"),
    "dicom_repetition_time_ms": ("RepetitionTime", "float", "MR repetition time (ms)"),
    "dicom_echo_time_ms": ("EchoTime", "float", "MR echo time (ms)"),
    "dicom_reconstruction_method": ("ReconstructionMethod", "str", "PET reconstruction method"),
}
#: Column -> Arrow type name, for typed Parquet columns even when every value is missing.
COLUMN_TYPES = {name: {"float": "float64", "str": "string", "date": "date32"}[kind]
                for name, (_, kind, _) in HEADER_COLUMNS.items()}


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        parts = [str(v).strip() for v in value if str(v).strip()]
        return "\\".join(parts) or None
    text = str(value).strip()
    return text or None


def _number(value, index: int | None = None) -> float | None:
    if value is None:
        return None
    try:
        if index is not None:
            value = list(value)[index]
        number = float(value)
    except (TypeError, ValueError, IndexError):
        return None
    return number if number == number else None


def _date(value) -> _dt.date | None:
    text = _text(value)
    if text is None or len(text) < 8:
        return None
    try:
        return _dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def _get(ds, keyword):
    try:
        return getattr(ds, keyword, None)
    except (ValueError, TypeError, OverflowError):
        return None


def header_covariates(datasets) -> dict[str, object]:
    """The covariate columns of one image series (see the module docstring for the rules).

    Parameters
    ----------
    datasets : sequence of pydicom.Dataset
        The series' slice headers, in slice order (at least one).

    Returns
    -------
    dict of str to object
        Every key of :data:`HEADER_COLUMNS`: ``float``, ``str``, ``datetime.date`` or
        ``None`` (absent or empty tag).

    Raises
    ------
    ValueError
        ``datasets`` is empty.

    Examples
    --------
    >>> from pydicom import Dataset
    >>> ds = Dataset(); ds.KVP = "120"; ds.ConvolutionKernel = ["B30f", "2"]
    >>> ds.AcquisitionDate = "20190305"; ds.PixelSpacing = [0.7, 0.8]
    >>> cov = header_covariates([ds])
    >>> cov["dicom_kvp"], cov["dicom_convolution_kernel"], cov["dicom_pixel_spacing_x_mm"]
    (120.0, 'B30f\\\\2', 0.8)
    >>> cov["dicom_acquisition_date"], cov["dicom_contrast_agent"]
    (datetime.date(2019, 3, 5), None)
    """
    datasets = list(datasets)
    if not datasets:
        raise ValueError("header_covariates needs at least one slice header")
    first = datasets[0]
    out: dict[str, object] = {}
    for name, (keyword, kind, _) in HEADER_COLUMNS.items():
        if not keyword or kind == "date":
            continue
        value = _get(first, keyword)  # a value pydicom cannot convert is missing, not a failure
        if name == "dicom_pixel_spacing_y_mm":
            out[name] = _number(value, 0)
        elif name == "dicom_pixel_spacing_x_mm":
            out[name] = _number(value, 1)
        elif kind == "float":
            out[name] = _number(value)
        else:
            out[name] = _text(value)
    dates = [d for d in (_date(_get(ds, "AcquisitionDate")) for ds in datasets) if d is not None]
    source = "AcquisitionDate" if dates else None
    if not dates:
        for keyword in ("SeriesDate", "StudyDate"):
            found = _date(_get(first, keyword))
            if found is not None:
                dates, source = [found], keyword
                break
    out["dicom_acquisition_date"] = min(dates) if dates else None
    out["dicom_acquisition_date_source"] = source
    return {name: out[name] for name in HEADER_COLUMNS}
