"""Body-weight SUV from the DICOM PET tags.

The body-weight standardised uptake value is

.. math::

    \\mathrm{SUV_{bw}} = \\frac{A \\; w}{D \\, 2^{-\\Delta t / T_{1/2}}}

with :math:`A` the activity concentration (Bq/ml, ``Units = BQML``), :math:`w` the
patient weight in g, :math:`D` the injected dose in Bq, :math:`T_{1/2}` the radionuclide
half-life in s and :math:`\\Delta t` the time from injection to the reference time of the
decay correction. ``suv_factor`` returns :math:`w / (D\\,2^{-\\Delta t/T_{1/2}})` in g/Bq
(ml taken as g: tissue density 1 g/ml).

Reference time (``DecayCorrection = START``)
    DICOM PS3.3 C.8.9.1.1.5 says START images are decay corrected to the acquisition
    start, and that Series Date/Time is the reference for every temporally related PET
    attribute. Following the QIBA FDG-PET/CT profile's vendor-neutral SUV pseudo-code we use
    ``SeriesDate``/``SeriesTime``; when a slice's ``AcquisitionDate``/``AcquisitionTime``
    is *earlier* than the series time (post-processed series whose series time was reset),
    the earliest acquisition time is used instead and the record says so. The sarcoma case
    STS_001 (series time = acquisition time, Δt = 2711 s) gives 2.42903e-4 g/Bq.
``DecayCorrection = ADMIN``
    Images are already decay corrected to the administration time: Δt = 0, no dose decay.
``DecayCorrection = NONE``
    Each slice would need its own decay factor from its acquisition time; this is not
    supported and raises :class:`~voxelomics.errors.InputError`.
``Units = GML``
    The image already holds SUVbw (g/ml): factor 1, recorded as ``method="none"``.

References
----------
DICOM PS3.3 C.8.9.1 (PET Series module); QIBA FDG-PET/CT profile, "Vendor-neutral
pseudo-code for SUV calculation" (2019).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from voxelomics.errors import InputError

__all__ = ["suv_factor", "parse_dicom_datetime"]


def parse_dicom_datetime(date: str | None, time: str | None) -> datetime | None:
    """Combine a DICOM DA (``YYYYMMDD``) and TM (``HHMMSS.ffffff``) value.

    Parameters
    ----------
    date : str or None
        DICOM date; ``None`` or empty gives ``None``.
    time : str or None
        DICOM time, seconds and fraction optional; ``None`` or empty gives ``None``.

    Returns
    -------
    datetime or None
        Naive datetime, or ``None`` when either part is missing.

    Raises
    ------
    InputError
        If a value is present but malformed.
    """
    date = str(date or "").strip()
    time = str(time or "").strip().replace(":", "")
    if not date or not time:
        return None
    try:
        base = datetime.strptime(date[:8], "%Y%m%d")
        hh, mm = int(time[0:2]), int(time[2:4] or 0)
        sec = float(time[4:] or 0.0)
    except ValueError as exc:
        raise InputError(f"cannot parse DICOM date/time {date!r} {time!r}: {exc}") from None
    return base + timedelta(hours=hh, minutes=mm, seconds=sec)


def _parse_dt(value: str | None) -> datetime | None:
    value = str(value or "").strip()
    if not value:
        return None
    value = value.split("+")[0].split("-")[0] if len(value) > 14 else value
    return parse_dicom_datetime(value[:8], value[8:] or "000000")


def _required(ds: Any, keyword: str, tag: str, what: str) -> Any:
    value = getattr(ds, keyword, None)
    if value is None or str(value).strip() == "":
        raise InputError(f"cannot compute SUV: {keyword} {tag} ({what}) is missing or empty")
    return value


def suv_factor(dataset: Any, *, earliest_acquisition: datetime | None = None) -> tuple[float, dict]:
    """Body-weight SUV conversion factor of a PET dataset (g/Bq).

    Multiply activity concentrations in Bq/ml by the factor to get SUVbw (g/ml). See the
    module docstring for the formula, the reference-time rule and the decay-correction
    cases.

    Parameters
    ----------
    dataset : pydicom.Dataset
        One slice of a PET series (header only is enough).
    earliest_acquisition : datetime or None, default=None
        Earliest ``AcquisitionDate``/``AcquisitionTime`` over the series; ``None`` uses the
        dataset's own acquisition time.

    Returns
    -------
    factor : float
        SUVbw per Bq/ml, in g/Bq (1.0 when ``Units = GML``).
    record : dict
        The assumptions: ``method``, ``units``, ``decay_correction``, ``reference_time``
        (which tag), ``reference_datetime``, ``injection_datetime``, ``delta_t_s``,
        ``dose_bq``, ``decayed_dose_bq``, ``weight_kg``, ``half_life_s``, ``factor_g_per_bq``.

    Raises
    ------
    InputError
        If the dataset is not PET, its ``Units`` are neither BQML nor GML, the decay
        correction is NONE or unknown, a required tag (PatientWeight, RadionuclideTotalDose,
        RadionuclideHalfLife, RadiopharmaceuticalStartTime, SeriesTime) is missing, or the
        injection is after the reference time.
    """
    modality = str(getattr(dataset, "Modality", "") or "")
    if modality != "PT":
        raise InputError(f"cannot compute SUV: Modality is {modality!r}, expected 'PT'")
    units = str(getattr(dataset, "Units", "") or "").upper()
    decay = str(getattr(dataset, "DecayCorrection", "") or "").upper()
    if units == "GML":
        return 1.0, {"method": "none", "units": "GML", "decay_correction": decay,
                     "note": "image already in SUVbw (g/ml); no conversion applied",
                     "factor_g_per_bq": 1.0}
    if units != "BQML":
        raise InputError(
            f"cannot compute SUV: Units (0054,1001) is {units or 'missing'!r}; expected 'BQML' "
            "(Bq/ml) or 'GML' (already SUV)"
        )
    weight_kg = float(_required(dataset, "PatientWeight", "(0010,1030)", "patient weight in kg"))
    if weight_kg <= 0:
        raise InputError(f"cannot compute SUV: PatientWeight (0010,1030) is {weight_kg} kg, expected > 0")
    seq = getattr(dataset, "RadiopharmaceuticalInformationSequence", None)
    if not seq:
        raise InputError("cannot compute SUV: RadiopharmaceuticalInformationSequence (0054,0016) is missing")
    rp = seq[0]
    dose = float(_required(rp, "RadionuclideTotalDose", "(0018,1074)", "injected dose in Bq"))
    half_life = float(_required(rp, "RadionuclideHalfLife", "(0018,1075)", "half-life in s"))
    if dose <= 0 or half_life <= 0:
        raise InputError(f"cannot compute SUV: dose {dose} Bq and half-life {half_life} s must be > 0")
    record: dict = {"method": "bw", "units": "BQML", "decay_correction": decay, "dose_bq": dose,
                    "weight_kg": weight_kg, "half_life_s": half_life}
    if decay == "ADMIN":
        factor = weight_kg * 1000.0 / dose
        record.update(reference_time="administration (ADMIN)", delta_t_s=0.0,
                      decayed_dose_bq=dose, factor_g_per_bq=factor)
        return factor, record
    if decay != "START":
        raise InputError(
            f"cannot compute SUV: DecayCorrection (0054,1102) is {decay or 'missing'!r}; supported are "
            "'START' and 'ADMIN' (NONE would need a per-slice decay correction)"
        )
    series_date = getattr(dataset, "SeriesDate", None) or getattr(dataset, "AcquisitionDate", None) \
        or getattr(dataset, "StudyDate", None)
    series_time = _required(dataset, "SeriesTime", "(0008,0031)", "series reference time")
    reference = parse_dicom_datetime(series_date, series_time)
    if reference is None:
        raise InputError("cannot compute SUV: SeriesDate (0008,0021), AcquisitionDate and StudyDate are all missing")
    ref_name = "SeriesTime"
    acq = earliest_acquisition or parse_dicom_datetime(
        getattr(dataset, "AcquisitionDate", None) or series_date, getattr(dataset, "AcquisitionTime", None))
    if acq is not None and acq < reference:
        reference, ref_name = acq, "earliest AcquisitionTime (SeriesTime is later: post-processed series)"
    injection = _parse_dt(getattr(rp, "RadiopharmaceuticalStartDateTime", None))
    if injection is None:
        start = _required(rp, "RadiopharmaceuticalStartTime", "(0018,1072)", "injection time")
        injection = parse_dicom_datetime(reference.strftime("%Y%m%d"), start)
    delta_t = (reference - injection).total_seconds()
    if delta_t < 0:
        raise InputError(
            f"cannot compute SUV: injection time {injection.isoformat()} is after the reference time "
            f"{reference.isoformat()} ({ref_name}); a scan across midnight needs RadiopharmaceuticalStartDateTime"
        )
    decayed = dose * 2.0 ** (-delta_t / half_life)
    factor = weight_kg * 1000.0 / decayed
    record.update(reference_time=ref_name, reference_datetime=reference.isoformat(),
                  injection_datetime=injection.isoformat(), delta_t_s=delta_t,
                  decayed_dose_bq=decayed, factor_g_per_bq=factor)
    return factor, record
