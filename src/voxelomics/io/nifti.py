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

__all__ = ["nifti_expected_bytes", "nifti_data_problem", "nifti_read_problem", "read_nifti_orthonormalised"]

_GZIP_MAGIC = b"\x1f\x8b"


def _is_gzip(path: Path) -> bool:
    """Whether the file starts with the gzip magic bytes (whatever its name says)."""
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


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
    try:
        gz = _is_gzip(path)  # the bytes decide: SimpleITK reads an uncompressed file named .nii.gz
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
    except EOFError:
        return ("the gzip stream is truncated: it ends before all the voxel data its header declares "
                "(an incomplete download or copy)")
    except (OSError, zlib.error) as exc:
        return f"the compressed data is damaged ({type(exc).__name__}: {exc})"
    if size < expected:
        return (f"the file holds {size} bytes but its header declares {expected} (voxel data "
                "missing: truncated or incompletely copied)")
    return None


def nifti_read_problem(path: Path) -> str | None:
    """Why a ``.nii`` / ``.nii.gz`` file that SimpleITK cannot read is not a NIfTI file.

    SimpleITK only says it found no reader ("Unable to determine ImageIO reader"); this
    looks at the bytes: gzip or not, a gzip stream that ends early or is damaged, and the
    NIfTI-1/2 header size field (348 or 540) of the (decompressed) data.

    Parameters
    ----------
    path : Path
        A file named ``.nii`` or ``.nii.gz`` (other endings return None).

    Returns
    -------
    str or None
        A sentence for the error message ("the gzip stream is truncated ...", "the file is
        not gzip-compressed ...", "not a NIfTI file: ... header ..."); None
        when the bytes look like a complete NIfTI header (SimpleITK's message then stands).
    """
    import gzip
    import zlib

    name = path.name.lower()
    if not name.endswith((".nii", ".nii.gz")):
        return None
    try:
        size = path.stat().st_size
        gz = _is_gzip(path)
        if not gz:
            with open(path, "rb") as f:
                head = f.read(544)
        else:
            with gzip.open(path, "rb") as f:
                head = f.read(544)
    except EOFError:
        return (f"the gzip stream is truncated ({size} bytes; it ends "
                "before the NIfTI header is complete: an incomplete download or copy)")
    except (gzip.BadGzipFile, zlib.error) as exc:
        return f"the compressed data is damaged ({exc})"
    except OSError as exc:
        return str(exc)
    if size == 0:
        return "the file is empty (0 bytes)"
    if nifti_expected_bytes(head) is not None:
        return None
    if gz:
        what = "the decompressed data"
    elif name.endswith(".gz"):
        what = "the file is not gzip-compressed (as its name .nii.gz says), and"
    else:
        what = "the file"
    if len(head) < 348:
        return f"{what} holds {len(head)} bytes, fewer than a NIfTI header (348)"
    text = head[:200].decode("ascii", errors="replace")
    kind = " (it is text)" if all(c.isprintable() or c.isspace() for c in text) else ""
    return f"{what} does not start with a NIfTI-1 or NIfTI-2 header (header size field 348 or 540){kind}"


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
