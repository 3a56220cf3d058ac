# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled counting kernels of the texture families (built by ``make install``).

Private to :mod:`voxelomics.features`; called through :mod:`voxelomics.features._grid`,
which prepares their input. Each kernel visits the ROI voxels of a grey-level box once per
direction (or once with their neighbourhood) and counts; everything that is not counting
(validation, merging, normalisation, the features) stays in numpy in the family modules.
Integer counts only, so the matrices are exactly those of the numpy code they replaced
(``tests/unit/features/test_texture_regression.py``).

Why compiled: on a 45k-voxel ROI with 32 grey levels (a response map of the IBSI CT
phantom), the numpy passes these loops replaced (per direction: shifted comparisons, gathers,
``bincount``; binary lifting for the runs; ``ndimage.correlate`` for the neighbourhood sums)
took 11-19 ms CPU per family for its 2D and 3D matrices, these loops take 0.8-1.9 ms; the
profile is in ``benchmarks/README.md`` ("Compiled texture kernels").

Input of every kernel: ``flat``, the grey levels of a (z, y, x) box padded with at least
``distance`` zeros on every side, raveled in C order (0 outside the ROI, ``1..N_g`` inside),
and ``roi``, the flat indices of the ROI voxels in increasing order. Neighbours are reached
by adding a flat step; the zero padding means no step leaves the array or wraps to another
row, and a run or a neighbourhood ends where the ROI ends.
"""

import numpy as np

from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t

ctypedef fused level_t:
    uint8_t
    uint16_t
    uint32_t


def cooccurrence(const level_t[::1] flat, const int64_t[::1] roi, const int64_t[::1] steps,
                 const int64_t[::1] slice_of, Py_ssize_t n_slices, Py_ssize_t n_levels):
    """Co-occurrence counts of ``(v, v + step)`` pairs in the ROI, per direction (GLCM, LFYI).

    Parameters
    ----------
    flat : ndarray of uint8, uint16 or uint32, shape (n,)
        Padded grey levels (see the module docstring).
    roi : ndarray of int64, shape (n_roi,)
        Flat indices of the ROI voxels.
    steps : ndarray of int64, shape (n_directions,)
        Flat steps of the neighbour offsets (times the distance).
    slice_of : ndarray of int64, shape (n_roi,)
        Matrix (slice) of each ROI voxel, ``0..n_slices - 1`` (all 0 for 3D).
    n_slices : int
        Number of matrices per direction.
    n_levels : int
        :math:`N_g`.

    Returns
    -------
    ndarray of int64, shape (n_slices, n_directions, n_levels, n_levels)
        ``[s, d, a - 1, b - 1]``: pairs with grey level ``a`` at ``v`` and ``b`` at
        ``v + step`` (not symmetrised).
    """
    cdef Py_ssize_t n_dir = steps.shape[0], n_roi = roi.shape[0]
    out_arr = np.zeros((n_slices, n_dir, n_levels, n_levels), dtype=np.int64)
    cdef int64_t[:, :, :, ::1] out = out_arr
    cdef Py_ssize_t k, i
    cdef int64_t step, v, a, b
    with nogil:
        for k in range(n_dir):
            step = steps[k]
            for i in range(n_roi):
                v = roi[i]
                b = flat[v + step]
                if b != 0:
                    a = flat[v]
                    out[slice_of[i], k, a - 1, b - 1] += 1
    return out_arr


def runs(const level_t[::1] flat, const int64_t[::1] roi, const int64_t[::1] steps,
         const int64_t[::1] slice_of, Py_ssize_t n_slices, Py_ssize_t n_levels, Py_ssize_t n_r):
    """Run counts per direction (GLRLM, TP0I).

    Parameters
    ----------
    flat, roi, slice_of, n_slices, n_levels
        As for :func:`cooccurrence` (padding of at least one voxel).
    steps : ndarray of int64, shape (n_directions,)
        Positive flat steps of the unit directions (a direction and its opposite have the
        same runs).
    n_r : int
        Columns of the matrix: at least the longest run (the largest extent of the box).

    Returns
    -------
    ndarray of int64, shape (n_slices, n_directions, n_levels, n_r)
        ``[s, d, i - 1, j - 1]``: runs of grey level ``i`` and length ``j``.

    Notes
    -----
    The ROI voxels are visited in increasing flat order, so a voxel's predecessor along a
    positive step is visited before it: the length of the run so far is carried from the
    predecessor (1 at a run start) and the run is counted at its last voxel. No branch
    depends on the grey levels (they would be mispredicted on fine textures).
    """
    cdef Py_ssize_t n_dir = steps.shape[0], n_roi = roi.shape[0]
    out_arr = np.zeros((n_slices, n_dir, n_levels, n_r), dtype=np.int64)
    so_far_arr = np.zeros(flat.shape[0], dtype=np.int64)
    cdef int64_t[:, :, :, ::1] out = out_arr
    cdef int64_t[::1] so_far = so_far_arr
    cdef Py_ssize_t k, i
    cdef int64_t step, v, a, length
    with nogil:
        for k in range(n_dir):
            step = steps[k]
            for i in range(n_roi):
                v = roi[i]
                a = flat[v]
                length = (flat[v - step] == a) * so_far[v - step] + 1
                so_far[v] = length
                out[slice_of[i], k, a - 1, length - 1] += flat[v + step] != a
    return out_arr


def neighbour_sums(const level_t[::1] flat, const int64_t[::1] roi, const int64_t[::1] steps):
    """Sum and number of the ROI neighbours of every ROI voxel (NGTDM, IPET).

    Parameters
    ----------
    flat, roi
        As for :func:`cooccurrence`.
    steps : ndarray of int64, shape (n_neighbours,)
        Flat steps of the neighbourhood offsets, centre excluded.

    Returns
    -------
    total : ndarray of int64, shape (n_roi,)
        Sum of the grey levels of the ROI neighbours of each ROI voxel.
    count : ndarray of int64, shape (n_roi,)
        Number of ROI neighbours.
    """
    cdef Py_ssize_t n_nb = steps.shape[0], n_roi = roi.shape[0]
    total_arr = np.empty(n_roi, dtype=np.int64)
    count_arr = np.empty(n_roi, dtype=np.int64)
    cdef int64_t[::1] total = total_arr
    cdef int64_t[::1] count = count_arr
    cdef Py_ssize_t i, k
    cdef int64_t v, b, tot, cnt
    with nogil:
        for i in range(n_roi):
            v = roi[i]
            tot = 0
            cnt = 0
            for k in range(n_nb):
                b = flat[v + steps[k]]
                tot += b
                cnt += b != 0
            total[i] = tot
            count[i] = cnt
    return total_arr, count_arr


def dependence(const level_t[::1] flat, const int64_t[::1] roi, const int64_t[::1] steps,
               int64_t alpha):
    """Dependence count of every ROI voxel (NGLDM, REK0).

    Parameters
    ----------
    flat, roi
        As for :func:`cooccurrence`.
    steps : ndarray of int64, shape (n_neighbours,)
        Flat steps of the neighbourhood offsets, centre excluded.
    alpha : int
        Coarseness α: a ROI neighbour whose grey level differs by at most α is dependent.

    Returns
    -------
    ndarray of int64, shape (n_roi,)
        1 (the voxel itself) plus the number of its dependent ROI neighbours.
    """
    cdef Py_ssize_t n_nb = steps.shape[0], n_roi = roi.shape[0]
    count_arr = np.empty(n_roi, dtype=np.int64)
    cdef int64_t[::1] count = count_arr
    cdef Py_ssize_t i, k
    cdef int64_t v, b, c, cnt
    with nogil:
        for i in range(n_roi):
            v = roi[i]
            c = flat[v]
            cnt = 1
            for k in range(n_nb):
                b = flat[v + steps[k]]
                cnt += (b != 0) & (b - c <= alpha) & (c - b <= alpha)
            count[i] = cnt
    return count_arr
