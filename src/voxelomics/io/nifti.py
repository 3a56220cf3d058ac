"""NIfTI files: integrity of the voxel data, and sforms orthonormal only to rounding.

SimpleITK fills the missing part of a truncated NIfTI file with zeros without an error (a
half-copied ``.nii.gz`` would give features of an image that is partly zeros), so
:func:`voxelomics.io.images.read_image` and ``read_mask`` check the size here first.

SimpleITK refuses a file whose sform axes are perpendicular only to about 1e-4 or worse
("ITK only supports orthonormal direction cosines") when it has no qform to fall back on.
:func:`read_nifti_orthonormalised` reads such a file when the deviation is within
:data:`voxelomics.io.direction.DIRECTION_TOLERANCE` (see that module for the rule).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["nifti_expected_bytes", "nifti_data_problem", "read_nifti_orthonormalised"]


def nifti_expected_bytes(head: bytes) -> int | None:
    """Bytes a NIfTI-1/2 file must hold (header offset plus voxel data), from its header.

    Parameters
    ----------
    head : bytes
        The first 544 bytes of the (decompressed) file.

    Returns
    -------
    int or None
        ``vox_offset + n_voxels * bitpix / 8``; None when the bytes are not a NIfTI-1 or
        NIfTI-2 header this function understands.
    """
    import struct

    for endian in "<>":
        if len(head) >= 348 and struct.unpack(endian + "i", head[:4])[0] == 348:  # NIfTI-1
            dims = struct.unpack(endian + "8h", head[40:56])
            bitpix = struct.unpack(endian + "h", head[72:74])[0]
            offset = int(struct.unpack(endian + "f", head[108:112])[0])
            break
        if len(head) >= 540 and struct.unpack(endian + "i", head[:4])[0] == 540:  # NIfTI-2
            bitpix = struct.unpack(endian + "h", head[14:16])[0]
            dims = struct.unpack(endian + "8q", head[16:80])
            offset = struct.unpack(endian + "q", head[168:176])[0]
            break
    else:
        return None
    n_dim = dims[0]
    if not 1 <= n_dim <= 7 or bitpix <= 0 or offset < 0:
        return None
    n_vox = 1
    for d in dims[1:n_dim + 1]:
        n_vox *= max(int(d), 1)
    return int(offset) + n_vox * bitpix // 8


def nifti_data_problem(path: Path) -> str | None:
    """Why a NIfTI file holds less voxel data than its header declares, or None.

    SimpleITK fills the missing part of a truncated NIfTI file with zeros without an error,
    so the size is checked here: the file length for ``.nii``; for ``.nii.gz`` the gzip
    trailer's uncompressed size (no decompression), and only when that does not match
    (a damaged file, or several gzip members) the whole stream is decompressed and counted.

    Parameters
    ----------
    path : Path
        Image or mask file; other endings than ``.nii`` / ``.nii.gz`` return None.

    Returns
    -------
    str or None
        A sentence for the error message, or None when the file is complete (or not a
        NIfTI header this module understands: SimpleITK then decides).
    """
    import gzip
    import zlib

    name = path.name.lower()
    if not name.endswith((".nii", ".nii.gz")):
        return None
    gz = name.endswith(".gz")
    try:
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as f:
            expected = nifti_expected_bytes(f.read(544))
        if expected is None:
            return None  # not a header we know: SimpleITK decides
        if not gz:
            size = path.stat().st_size
        else:
            with open(path, "rb") as f:
                f.seek(-4, 2)
                trailer = int.from_bytes(f.read(4), "little")
            if trailer == expected % (1 << 32):
                return None
            size = 0
            with gzip.open(path, "rb") as f:
                while chunk := f.read(1 << 22):
                    size += len(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        return f"the compressed data is damaged ({type(exc).__name__}: {exc})"
    if size < expected:
        return (f"the file holds {size} bytes but its header declares {expected} (voxel data "
                "missing: truncated or incompletely copied)")
    return None


def _sform(head: bytes):
    """``(endian, srow offset, float format, sform_code, 3x4 sform)`` of a NIfTI-1/2 header, or None."""
    import struct

    for endian in "<>":
        if len(head) >= 348 and struct.unpack(endian + "i", head[:4])[0] == 348:  # NIfTI-1
            code = struct.unpack(endian + "h", head[254:256])[0]
            return endian, 280, "f", code, np.array(struct.unpack(endian + "12f", head[280:328])).reshape(3, 4)
        if len(head) >= 540 and struct.unpack(endian + "i", head[:4])[0] == 540:  # NIfTI-2
            code = struct.unpack(endian + "i", head[348:352])[0]
            return endian, 400, "d", code, np.array(struct.unpack(endian + "12d", head[400:496])).reshape(3, 4)
    return None


def read_nifti_orthonormalised(path: Path):
    """Read a NIfTI file whose sform SimpleITK refused, with the sform re-orthonormalised.

    The header is copied with its sform axes replaced by the nearest orthonormal ones
    (same voxel sizes, same origin) into a temporary uncompressed file, which SimpleITK
    reads; the voxel data are copied unchanged.

    Parameters
    ----------
    path : Path
        ``.nii`` or ``.nii.gz`` file.

    Returns
    -------
    SimpleITK.Image or None
        The image; None when the file has no sform this function understands (the caller
        reports SimpleITK's own error).

    Warns
    -----
    GeometryWarning
        The sform was re-orthonormalised (always, on this path: SimpleITK refuses only
        deviations above :data:`~voxelomics.io.direction.SILENT_DEVIATION`).

    Raises
    ------
    GeometryError
        The sform is sheared beyond :data:`~voxelomics.io.direction.DIRECTION_TOLERANCE`.
    """
    import gzip
    import shutil
    import struct
    import tempfile

    import SimpleITK as sitk

    from voxelomics.io.direction import orthonormal_direction

    gz = path.name.lower().endswith(".gz")
    with (gzip.open(path, "rb") if gz else open(path, "rb")) as f:
        head = f.read(544)
        form = _sform(head)
        if form is None or nifti_expected_bytes(head) is None:
            return None
        endian, at, fmt, code, srow = form
        if code <= 0:
            return None
        linear = srow[:, :3]
        sizes = np.linalg.norm(linear, axis=0)
        if np.any(sizes == 0) or not np.all(np.isfinite(linear)):
            return None
        axes = orthonormal_direction(linear / sizes, path=path)  # warns, or raises for a shear
        fixed = np.concatenate([axes * sizes, srow[:, 3:]], axis=1)
        patched = bytearray(head)
        patched[at:at + 12 * struct.calcsize(fmt)] = struct.pack(endian + "12" + fmt, *fixed.ravel())
        with tempfile.TemporaryDirectory(prefix="voxelomics-nifti-") as tmp:
            copy = Path(tmp) / "image.nii"
            with open(copy, "wb") as out:
                out.write(patched)
                shutil.copyfileobj(f, out, 1 << 22)
            return sitk.ReadImage(str(copy))
